"""The base of the self-supervised methods: backbones from specs, projectors, views, augmentation, evaluation.

:class:`ContrastiveMethod` holds what SkeletonCLR, CrosSCLR, view/distance
SimCLR, MCC and the pretext-classification baselines share, so each of them
is a short file:

* the dataset's skeleton ``layout``, ``in_channels`` and ``num_frames``
  (its :attr:`~skelssl.methods.base.Method.dataset_fields`);
* :meth:`~ContrastiveMethod.projected_encoder`: a backbone built from a
  spec (``{"name": "stgcn_quarter", ...}``, a module or a factory) with a
  projector on its pooled features; its
  :meth:`~skelssl.methods.components.ProjectedEncoder.encode` gives the dense
  map, the pooled features and the projection from one pass;
* ``augment`` (a pipeline name, path or spec) and :meth:`augment_pair`, two
  independently augmented copies of the joint batch, drawn on its device from
  torch's global RNG (which the engine checkpoints);
* views: joint / motion / bone / bone_motion, converted *after* augmentation
  (:meth:`to_view`);
* evaluation encoders: :meth:`backbones` names the backbone of every view and
  :meth:`eval_encoders` wraps each so it takes joint input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.data.views import VIEWS, to_view
from skelssl.methods.base import Method
from skelssl.methods.components import (AugmentSpec, EncoderSpec, ProjectedEncoder, ViewEncoder, build_augment,
                                        build_encoder, projection_head)

__all__ = ["ContrastiveMethod", "check_view"]


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")
    return view


class ContrastiveMethod(Method):
    """Base class: subclasses build their networks in ``__init__`` and implement ``training_step`` and :meth:`backbones`.

    Args:
        augment: augmentation pipeline (name, path, spec or ``None``).
        layout, in_channels, num_frames: the dataset's skeleton layout, channels
            and clip length (filled in by :func:`~skelssl.methods.base.build_method`;
            ``num_frames`` reaches encoders that take it).
    """

    dataset_fields: ClassVar[tuple[str, ...]] = ("layout", "in_channels", "num_frames")

    def __init__(self, *, augment: AugmentSpec = None, layout: str | SkeletonLayout = "ntu25", in_channels: int = 3,
                 num_frames: int | None = None) -> None:
        super().__init__()
        self.layout = get_layout(layout)
        self.in_channels = int(in_channels)
        self.num_frames = None if num_frames is None else int(num_frames)
        self.augment = build_augment(augment, self.layout)

    def projected_encoder(self, encoder: EncoderSpec, out_dim: int = 128, mlp: bool = True,
                          head: Callable[[int], nn.Module] | None = None) -> ProjectedEncoder:
        """A fresh backbone and its projector: ``fc-ReLU-fc`` to ``out_dim`` (one ``fc`` without ``mlp``),
        or ``head(feature_dim)`` for another head (a pretext's classifier)."""
        backbone = build_encoder(encoder, self.in_channels, self.layout, self.num_frames)
        d = backbone.feature_dim
        return ProjectedEncoder(backbone, head(d) if head is not None else projection_head(d, out_dim, mlp))

    def augment_pair(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Two independently augmented copies of the joint batch (``x`` twice without a pipeline)."""
        if self.augment is None:
            return x, x
        return self.augment(x), self.augment(x)

    def to_view(self, x: Tensor, view: str) -> Tensor:
        return to_view(x, view, self.layout)

    def backbones(self) -> dict[str, nn.Module]:
        """``{view: backbone}`` of the encoders downstream tasks use (each takes input in its view)."""
        raise TypeError(f"{type(self).__name__} must implement backbones()")

    def eval_encoders(self) -> dict[str, nn.Module]:
        """``{view: encoder}``; each takes **joint** input ``(N, C, T, V, M)`` and returns ``(N, D)``."""
        return {view: ViewEncoder(backbone, view, self.layout) for view, backbone in self.backbones().items()}

    def extra_repr(self) -> str:
        options: dict[str, Any] = {"layout": self.layout.name, "augment": getattr(self.augment, "name", self.augment)}
        return ", ".join(f"{k}={v!r}" for k, v in options.items())
