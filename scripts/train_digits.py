"""Train a VGG on scikit-learn's bundled digits (no download) and save a checkpoint (and optionally its ONNX).

    python scripts/train_digits.py -o out/vgg_digits.safetensors [--epochs 8] [--seed 0]
    python scripts/train_digits.py --model vgg11 --input-size 64 --width-divisor 4 --epochs 12 \\
        -o out/vgg11_digits64.safetensors --export out/vgg11_digits64.onnx --test-npz out/digits64_test.npz

A .safetensors output carries the model's config in its metadata (`vgg-deploy infer` needs no --model);
a .pth output is a plain state dict, as torchvision writes them.

80% of the 1,797 images train, 20% test (seeded); prints the test accuracy. The small `vgg_digits` takes a few
seconds on 2 cores. `--model vgg11|vgg13|vgg16|vgg19` trains that full-depth VGG (every conv block; channels
divided by --width-divisor) on the digits upscaled to --input-size, one grayscale channel, the feature map
flattened into a --classifier-width classifier: a deep model on which INT8 has something to lose (VGG-11 at
64x64, width/4: about 6 minutes on 2 cores). Its preprocessing lives in the checkpoint's model only, so pass
--export to export it right here (the ONNX metadata then carries it for `vgg-deploy quantize`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vgg_deploy.artifacts import atomic_output, check_output
from vgg_deploy.data import load_samples
from vgg_deploy.errors import VGGDeployError
from vgg_deploy.log import configure_cli_logging
from vgg_deploy.models import create_model, model_config
from vgg_deploy.models.config import STANDARD_BLOCKS
from vgg_deploy.models.saved import save_checkpoint
from vgg_deploy.models.vgg import build_vgg
from vgg_deploy.train import accuracy, train_classifier


def _deep_model(name: str, size: int, width_divisor: int, classifier_width: int) -> torch.nn.Module:
    """A standard full-depth VGG for 1-channel size x size digits."""
    config = model_config(name).with_options(
        in_channels=1, num_classes=10, input_size=(size, size), resize_size=size, mean=(0.5,), std=(0.5,),
        classifier_input="flatten", classifier_width=classifier_width, width_divisor=width_divisor, dropout=0.1,
        labels=tuple(str(d) for d in range(10)),
    )
    return build_vgg(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model", default="vgg_digits", choices=["vgg_digits", *STANDARD_BLOCKS],
                        help="vgg_digits (small, 32x32) or a full-depth standard VGG [default: vgg_digits]")
    parser.add_argument("--input-size", type=int, default=64, help="standard VGGs: digits upscaled to this square")
    parser.add_argument("--width-divisor", type=int, default=4, help="standard VGGs: channels divided by this")
    parser.add_argument("--classifier-width", type=int, default=256, help="standard VGGs: hidden classifier width")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate [default: 5e-3, 1e-3 for deep]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-npz", type=Path, default=None,
                        help="also write the held-out 20%% (input, labels) here, for evaluation that never saw training")
    parser.add_argument("--export", type=Path, default=None, help="also export the trained model to this ONNX file")
    args = parser.parse_args()
    try:
        # Before the training (minutes for the deep model), not after it: a bad path is one line, no traceback.
        for path in (args.output, args.test_npz, args.export):
            if path is not None:
                check_output(path)
    except VGGDeployError as exc:
        sys.exit(f"Error: {exc}")

    configure_cli_logging(verbosity=1, prefix="train")  # every epoch's loss (debug) and the export's steps
    log = logging.getLogger("vgg_deploy.scripts.train_digits")
    torch.manual_seed(args.seed)
    deep = args.model != "vgg_digits"
    model = (_deep_model(args.model, args.input_size, args.width_divisor, args.classifier_width) if deep
             else create_model("vgg_digits"))
    samples = load_samples("digits", model.config, show_progress=False)
    order = np.random.default_rng(args.seed).permutation(len(samples))
    cut = int(len(samples) * 0.8)
    train, test = samples.subset(order[:cut]), samples.subset(order[cut:])
    h, w = model.config.input_size
    log.info("training %s (%.2f M parameters, %dx%d) on %d digits (%d epochs)", args.model,
             sum(p.numel() for p in model.parameters()) / 1e6, h, w, len(train), args.epochs)
    started = time.perf_counter()
    lr = args.lr if args.lr is not None else (1e-3 if deep else 5e-3)
    train_classifier(model, train.images, train.labels, epochs=args.epochs, lr=lr, seed=args.seed)
    seconds = time.perf_counter() - started
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
    if args.export:
        from vgg_deploy.export import export_onnx

        export_onnx(model, args.export, weights=str(args.output))
    print(f"wrote {args.output}: {args.model}, test accuracy {test_accuracy:.1%} on {len(test)} held-out digits "
          f"(trained in {seconds:.0f} s)" + (f"; ONNX {args.export}" if args.export else ""))


if __name__ == "__main__":
    main()
