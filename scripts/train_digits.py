"""Train the small `vgg_digits` VGG on scikit-learn's bundled digits (no download) and save a checkpoint.

    python scripts/train_digits.py -o out/vgg_digits.safetensors [--epochs 8] [--seed 0]

A .safetensors output carries the model's config in its metadata (`vgg-deploy infer` needs no --model);
a .pth output is a plain state dict, as torchvision writes them.

80% of the 1,797 images train, 20% test (seeded); prints the test accuracy. A few seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from vgg_deploy.artifacts import atomic_output
from vgg_deploy.data import load_samples
from vgg_deploy.models import create_model
from vgg_deploy.models.saved import save_checkpoint
from vgg_deploy.train import accuracy, train_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-npz", type=Path, default=None,
                        help="also write the held-out 20%% (input, labels) here, for evaluation that never saw training")
    args = parser.parse_args()

    model = create_model("vgg_digits")
    samples = load_samples("digits", model.config, show_progress=False)
    order = np.random.default_rng(args.seed).permutation(len(samples))
    cut = int(len(samples) * 0.8)
    train, test = samples.subset(order[:cut]), samples.subset(order[cut:])
    log = lambda m: print(f"[train] {m}", file=sys.stderr)  # noqa: E731
    log(f"training vgg_digits on {len(train)} digits ({args.epochs} epochs)")
    train_classifier(model, train.images, train.labels, epochs=args.epochs, seed=args.seed, progress=log)
    with torch.inference_mode():
        test_accuracy = accuracy(model(torch.from_numpy(test.images)).numpy(), test.labels)
    if args.output.suffix.lower() == ".safetensors":
        save_checkpoint(model, args.output)
    else:
        with atomic_output(args.output) as tmp:
            torch.save(model.state_dict(), tmp)
    if args.test_npz:
        with atomic_output(args.test_npz) as tmp:
            with open(tmp, "wb") as fp:
                np.savez(fp, input=test.images, labels=test.labels)
    print(f"wrote {args.output}: vgg_digits, test accuracy {test_accuracy:.1%} on {len(test)} held-out digits")


if __name__ == "__main__":
    main()
