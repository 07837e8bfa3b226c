"""torchvision's VGG architecture (torchvision/models/vgg.py, BSD-3-Clause), restated for the tests.

torchvision cannot be installed next to the CPU build of torch used here, so the tests compare against this
restatement of its published `cfgs`, `make_layers` and `VGG.forward`: the layout its checkpoints are saved in.
"""

from __future__ import annotations

import torch
from torch import nn

CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # "A"
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # "B"
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],  # "D"
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg: list, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class TorchvisionVGG(nn.Module):
    def __init__(self, name: str, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = make_layers(CFGS[name.removesuffix("_bn")], name.endswith("_bn"))
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def expected_shapes(name: str, num_classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's state dict for `name`, derived from CFGS without building the model."""
    batch_norm = name.endswith("_bn")
    shapes: dict[str, tuple[int, ...]] = {}
    index, in_channels = 0, 3
    for v in CFGS[name.removesuffix("_bn")]:
        if v == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (v, in_channels, 3, 3)
        shapes[f"features.{index}.bias"] = (v,)
        if batch_norm:
            for key in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"features.{index + 1}.{key}"] = (v,)
            shapes[f"features.{index + 1}.num_batches_tracked"] = ()
        index += 3 if batch_norm else 2
        in_channels = v
    for i, (out_f, in_f) in zip((0, 3, 6), ((4096, 512 * 49), (4096, 4096), (num_classes, 4096))):
        shapes[f"classifier.{i}.weight"] = (out_f, in_f)
        shapes[f"classifier.{i}.bias"] = (out_f,)
    return shapes


class TorchvisionAlexNet(nn.Module):
    """torchvision/models/alexnet.py (BSD-3-Clause): the single-tower AlexNet its IMAGENET1K_V1 weights fit."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# The published alexnet-owt-7be5be79.pth state dict, key by key (61,100,840 parameters).
ALEXNET_SHAPES: dict[str, tuple[int, ...]] = {
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
