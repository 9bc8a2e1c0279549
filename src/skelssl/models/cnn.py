"""A small ResNet-style 2-D CNN skeleton encoder: the sequence as an image, ``(T, V)`` pixels, channels as colour.

Gao et al. pretrain "ResNet" and GCN encoders of varied depth and width; this
is the ResNet. Input ``(N, C, T, V, M)`` goes through the shared data
BatchNorm (:class:`~skelssl.models.base.DataNorm`), then every person's
``(C, T, V)`` image through a 3×3 stem and ``len(layers)`` stages of basic
residual blocks (He et al., 2016): stage ``i`` has ``width · 2^i`` channels and
halves T and V (stride 2) from the second stage on. The dense map
``(N, M, D, T', V')`` is average-pooled as for the graph encoders.

Knobs: ``depth`` (10, 18 or 34: the ResNet block counts ``(1,1,1,1)``,
``(2,2,2,2)``, ``(3,4,6,3)``) or explicit ``layers``, and ``width`` (channels
of the first stage; the feature size is ``width · 2^(stages−1)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.models.base import DataNorm, PointwiseConv2d, SkeletonEncoder
from skelssl.models.registry import register_encoder

__all__ = ["SkeletonResNet", "BasicBlock", "RESNET_DEPTHS"]

RESNET_DEPTHS: dict[int, tuple[int, ...]] = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """3×3 conv-BN-ReLU, 3×3 conv-BN, plus the input (1×1 conv-BN when shape changes), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(PointwiseConv2d(in_channels, out_channels, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu_()))
        return (y + self.shortcut(x)).relu_()


@register_encoder("resnet", depth=18, width=64)
@register_encoder("resnet_small", depth=10, width=16)
class SkeletonResNet(SkeletonEncoder):
    """ResNet on skeleton images: ``(N, C, T, V, M)`` → ``(N, feature_dim)``.

    Args:
        in_channels: channels per joint. layout: skeleton layout (gives V).
        depth: 10, 18 or 34 (ignored when ``layers`` is given).
        layers: residual blocks per stage, e.g. ``(1, 1, 1)`` for three stages.
        width: channels of the first stage.
        num_person: if set, data BN over ``M·V·C`` instead of ``V·C``.
    """

    def __init__(self, in_channels: int = 3, layout: str | SkeletonLayout = "ntu25", depth: int = 18,
                 layers: Sequence[int] | None = None, width: int = 64, num_person: int | None = None) -> None:
        super().__init__()
        if layers is None:
            if depth not in RESNET_DEPTHS:
                raise ValueError(f"resnet depth must be one of {sorted(RESNET_DEPTHS)} (or give layers), got {depth}")
            layers = RESNET_DEPTHS[depth]
        self.layers = tuple(int(n) for n in layers)
        if not self.layers or min(self.layers) < 1 or width < 1:
            raise ValueError(f"resnet needs layers >= 1 block each and width >= 1, got {layers}, {width}")
        self.layout = get_layout(layout)
        self.in_channels = in_channels
        self.data_bn = DataNorm(in_channels, self.layout.num_joints, num_person)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        blocks: list[nn.Module] = []
        c_in = width
        for i, count in enumerate(self.layers):
            c_out = width * 2**i
            for b in range(count):
                blocks.append(BasicBlock(c_in, c_out, 2 if i > 0 and b == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = c_in
        self.temporal_stride = 2 ** (len(self.layers) - 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        n, m = x.shape[0], x.shape[-1]
        h = self.blocks(self.stem(self.data_bn(x)))
        return h.view(n, m, *h.shape[1:])

    def extra_repr(self) -> str:
        return f"layers={self.layers}, feature_dim={self.feature_dim}, params={_millions(self)}M"


def _millions(module: nn.Module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 3)


