"""Pieces shared by the methods: encoder specs, projected encoders, augmentation specs, EMA, view wrappers."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import torch
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.data.views import VIEWS, to_view

__all__ = [
    "EncoderSpec",
    "AugmentSpec",
    "to_container",
    "build_encoder",
    "build_augment",
    "projection_head",
    "ProjectedEncoder",
    "momentum_update",
    "ViewEncoder",
]

# A registry spec ({"name": ..., **kwargs}), a module (deep-copied per use) or a
# zero-argument factory; the last two let tests and scripts plug in any backbone.
EncoderSpec = Union[Mapping[str, Any], nn.Module, Callable[[], nn.Module]]
# A shipped pipeline name, a YAML path, a spec (mapping or list of transforms), a ready pipeline, or None.
AugmentSpec = Union[str, Mapping[str, Any], Sequence[Mapping[str, Any]], Any, None]


def to_container(obj: Any) -> Any:
    """OmegaConf nodes as plain dicts/lists (config sections reach constructors as either)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:
        return obj
    if isinstance(obj, (DictConfig, ListConfig)):
        return OmegaConf.to_container(obj, resolve=True)
    return obj


def build_encoder(spec: EncoderSpec, in_channels: int, layout: str | SkeletonLayout,
                  num_frames: int | None = None) -> nn.Module:
    """A fresh backbone ``(N, C, T, V, M) -> (N, D)`` with a ``feature_dim`` attribute.

    A mapping goes through :func:`skelssl.models.registry.create_encoder` with
    ``in_channels`` and ``layout`` filled in unless the spec sets them, and
    ``num_frames`` too for encoders that take it.
    """
    if isinstance(spec, nn.Module):
        encoder = copy.deepcopy(spec)
    elif isinstance(spec, Mapping):
        kwargs = dict(to_container(spec))
        name = kwargs.pop("name", None)
        if not name:
            raise ValueError(f"an encoder spec needs a 'name', got {dict(spec)!r}")
        from skelssl.models.registry import create_encoder

        kwargs.setdefault("in_channels", in_channels)
        kwargs.setdefault("layout", layout)
        if num_frames is not None and _takes(name, "num_frames"):
            kwargs.setdefault("num_frames", num_frames)
        encoder = create_encoder(name, **kwargs)
    elif callable(spec):
        encoder = spec()
    else:
        raise TypeError(f"encoder must be a spec mapping, a module or a factory, got {type(spec).__name__}")
    if not isinstance(getattr(encoder, "feature_dim", None), int):
        raise TypeError(f"encoder {type(encoder).__name__} has no integer 'feature_dim' attribute")
    return encoder


def _takes(encoder_name: str, argument: str) -> bool:
    import inspect

    from skelssl.models.registry import ENCODERS, list_encoders

    list_encoders()  # registers the built-in families
    try:
        return argument in inspect.signature(ENCODERS.get(encoder_name)).parameters
    except (KeyError, TypeError, ValueError):
        return False


def build_augment(spec: AugmentSpec, layout: str | SkeletonLayout | None) -> Any:
    """A pipeline from a shipped name, YAML path, spec or ready pipeline; ``None``/``False``/``"none"``: none."""
    spec = to_container(spec)
    if spec is None or spec is False or (isinstance(spec, str) and spec.lower() in ("none", "null", "")):
        return None
    from skelssl.augment import Compose, build_pipeline

    if isinstance(spec, Compose) or (callable(spec) and not isinstance(spec, (str, Mapping, Sequence))):
        return spec
    return build_pipeline(spec, layout=layout)


def projection_head(in_dim: int, out_dim: int, mlp: bool = True) -> nn.Module:
    """SkeletonCLR's projector on pooled features: ``fc`` or ``fc-ReLU-fc`` (hidden width = ``in_dim``)."""
    if not mlp:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(inplace=True), nn.Linear(in_dim, out_dim))


class ProjectedEncoder(nn.Module):
    """``backbone`` then ``projector``: ``(N, C, T, V, M) -> (N, out)`` unnormalised.

    :meth:`encode` also returns what came before the projector, the dense map
    ``(N, M, D, T', V)`` (``None`` for backbones without one) and the pooled
    features ``h``, all from one pass, so a decoder or a pooling of its own
    never runs the backbone twice. Backbones that are not
    :class:`~skelssl.models.base.SkeletonEncoder` s (any module with a
    ``feature_dim``) give only ``h``.
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def encode(self, x: Tensor) -> tuple[Tensor | None, Tensor, Tensor]:
        """``(dense, h, z)``: dense map, pooled features and projection of ``x``."""
        from skelssl.models.base import SkeletonEncoder

        if isinstance(self.backbone, SkeletonEncoder):
            dense, h = self.backbone.features(x)
        else:
            dense, h = None, self.backbone(x)
        return dense, h, self.projector(h)

    def forward(self, x: Tensor) -> Tensor:
        # Not encode(): no dense map is built (a person-sparse backbone would have to assemble one).
        return self.projector(self.backbone(x))


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """EMA of parameters: ``θ_target ← m·θ_target + (1 − m)·θ_online``.

    Buffers (BatchNorm statistics) are left alone, as in MoCo: the target
    network keeps the running statistics of its own forward passes.
    """
    src = list(online.parameters())
    dst = list(target.parameters())
    if len(src) != len(dst):
        raise ValueError("online and target networks have different parameter lists")
    if not dst:
        return
    torch._foreach_mul_(dst, momentum)
    torch._foreach_add_(dst, [p.detach() for p in src], alpha=1.0 - momentum)


class ViewEncoder(nn.Module):
    """A backbone that takes **joint** coordinates and converts them to its view first.

    ``forward(x)`` maps joint input ``(N, C, T, V, M)`` to ``(N, feature_dim)``
    as ``backbone(to_view(x, view, layout))``, so an evaluation protocol feeds
    every encoder the same joint batch and never needs to know about views.
    ``input_view`` is always ``"joint"``; the wrapped backbone is shared with
    the method, not copied (deep-copy before fine-tuning if the method must
    stay untouched).
    """

    input_view = "joint"

    def __init__(self, backbone: nn.Module, view: str, layout: str | SkeletonLayout) -> None:
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")
        self.backbone = backbone
        self.view = view
        self.layout = get_layout(layout)
        self.feature_dim: int = int(backbone.feature_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(to_view(x, self.view, self.layout))

    def extra_repr(self) -> str:
        return f"view={self.view!r}, input_view='joint', layout={self.layout.name!r}"
