"""ResNet-18/34/50 trunk (conv1..layer4) with torchvision parameter names and frozen BatchNorm."""

from __future__ import annotations

import torch
from torch import nn

from ..spec import BACKBONES

BN_EPS = 1e-5


class FrozenBatchNorm2d(nn.Module):
    """Eval-mode BatchNorm: y = (x - mean) / sqrt(var + eps) * weight + bias. Same keys as nn.BatchNorm2d."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self.weight * torch.rsqrt(self.running_var + BN_EPS)
        return scale, self.bias - self.running_mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale_shift()
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k // 2), dilation=dilation, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, downsample: nn.Module | None, dilation: int = 1):
        super().__init__()
        self.conv1 = _conv(cin, planes, 3, stride)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = FrozenBatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, downsample: nn.Module | None, dilation: int = 1):
        super().__init__()
        self.conv1 = _conv(cin, planes, 1)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride, dilation)  # torchvision v1.5: stride on the 3x3
        self.bn2 = FrozenBatchNorm2d(planes)
        self.conv3 = _conv(planes, planes * 4, 1)
        self.bn3 = FrozenBatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + identity)


class ResNetTrunk(nn.Module):
    """conv1 -> bn1 -> relu -> maxpool -> layer1..layer4; returns layer4's feature map."""

    def __init__(self, name: str = "resnet18", in_channels: int = 3, dilation: bool = False) -> None:
        super().__init__()
        kind, blocks, _ = BACKBONES[name]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self._cin, self._dilation = 64, 1
        self.layer1 = self._make_layer(block, 64, blocks[0], 1, False)
        self.layer2 = self._make_layer(block, 128, blocks[1], 2, False)
        self.layer3 = self._make_layer(block, 256, blocks[2], 2, False)
        self.layer4 = self._make_layer(block, 512, blocks[3], 2, dilation)

    def _make_layer(self, block: type, planes: int, n: int, stride: int, dilate: bool) -> nn.Sequential:
        previous = self._dilation
        if dilate:  # torchvision's replace_stride_with_dilation
            self._dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self._cin != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self._cin, planes * block.expansion, 1, stride=stride, bias=False),
                FrozenBatchNorm2d(planes * block.expansion),
            )
        layers = [block(self._cin, planes, stride, downsample, previous)]
        self._cin = planes * block.expansion
        layers += [block(self._cin, planes, 1, None, self._dilation) for _ in range(1, n)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, Cb, H/32, W/32)
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


@torch.no_grad()
def fold_batchnorm(module: nn.Module) -> int:
    """Fold every (Conv2d, FrozenBatchNorm2d) pair into the conv (weight scaled, bias added), in place.

    Pairs are found by torchvision's naming: convN/bnN in blocks and the stem, downsample.0/.1.
    Returns the number of folded pairs.
    """
    folded = 0
    for parent in module.modules():
        pairs = [(f"conv{i}", f"bn{i}") for i in (1, 2, 3)]
        if isinstance(parent, nn.Sequential) and len(parent) == 2:
            pairs.append(("0", "1"))
        for conv_name, bn_name in pairs:
            conv, bn = getattr(parent, conv_name, None), getattr(parent, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, FrozenBatchNorm2d):
                scale, shift = bn.scale_shift()
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                  conv.padding, conv.dilation, conv.groups, bias=True)
                fused.weight.copy_(conv.weight * scale[:, None, None, None])
                bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
                fused.bias.copy_(bias * scale + shift)
                setattr(parent, conv_name, fused)
                setattr(parent, bn_name, nn.Identity())
                folded += 1
    return folded
