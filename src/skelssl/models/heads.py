"""Heads on pooled features: projection MLP, classifiers, ASSL's discriminator and aggregation MLP."""

from __future__ import annotations

from torch import Tensor, nn

from skelssl.models.registry import register_head

__all__ = ["ProjectionMLP", "LinearClassifier", "TwoLayerClassifier", "Discriminator", "MessageAggregation"]


@register_head("projection")
class ProjectionMLP(nn.Sequential):
    """Linear-[BN]-ReLU-…-Linear[-BN] (MoCo v2/SkeletonCLR use 2 layers, no BN).

    ``num_layers`` counts the Linear layers; ``hidden_dim`` defaults to ``in_dim``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 128,
        hidden_dim: int | None = None,
        num_layers: int = 2,
        batch_norm: bool = False,
        last_bn: bool = False,
    ) -> None:
        if num_layers < 1:
            raise ValueError("num_layers must be ≥ 1")
        hidden_dim = hidden_dim or in_dim
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(d, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim, bias=not last_bn))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        super().__init__(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim


@register_head("linear")
class LinearClassifier(nn.Linear):
    """Linear-evaluation classifier ``(N, D)`` → logits ``(N, num_classes)``."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__(in_dim, num_classes)


@register_head("two_layer")
class TwoLayerClassifier(nn.Sequential):
    """Linear-ReLU-[Dropout]-Linear classifier (semi-supervised fine-tuning heads)."""

    def __init__(self, in_dim: int, num_classes: int, hidden_dim: int = 256, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden_dim, num_classes))
        super().__init__(*layers)


def _mlp(dims: list[int], act: nn.Module) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(act)
    return layers


@register_head("discriminator")
class Discriminator(nn.Sequential):
    """ASSL's feature discriminator: 4 Linear layers with LeakyReLU(0.2), one logit per sample."""

    def __init__(self, in_dim: int, hidden_dim: int = 256, negative_slope: float = 0.2) -> None:
        super().__init__(*_mlp([in_dim, hidden_dim, hidden_dim, hidden_dim, 1], nn.LeakyReLU(negative_slope, True)))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).squeeze(-1)


@register_head("message_aggregation")
class MessageAggregation(nn.Sequential):
    """ASSL's 3-layer message-aggregation MLP: Linear-ReLU-Linear-ReLU-Linear."""

    def __init__(self, in_dim: int, out_dim: int | None = None, hidden_dim: int = 256) -> None:
        super().__init__(*_mlp([in_dim, hidden_dim, hidden_dim, out_dim or in_dim], nn.ReLU(inplace=True)))
