"""SkeletonCLR: MoCo on skeleton sequences (Li et al., CVPR 2021, §3.1).

One training step, for a batch of joint sequences ``x``:

1. two augmented copies ``x_q, x_k`` of the batch (pipeline ``augment``,
   default ``skeletonclr``: temporal crop γ = 6, shear β = 0.5), drawn inside
   ``forward`` on ``x``'s device from torch's global RNG (which the engine's
   checkpoint saves and restores);
2. each copy converted to the method's ``view`` (joint / motion / bone /
   bone_motion) *after* augmentation, as the reference does;
3. query ``q = normalize(g_q(f_q(x_q)))`` with the query encoder ``f_q`` and the
   projector ``g_q`` (``fc-ReLU-fc`` to ``feature_dim`` = 128, as the
   reference's ``mlp=True``); key ``k`` from the momentum copies ``f_k, g_k``
   without gradient, with MoCo's shuffle-BN across ranks;
4. InfoNCE of ``q`` against ``k`` and the queue (τ = 0.07, 32768 keys, see
   :mod:`skelssl.losses.infonce`), then the keys are enqueued.

``after_optimizer_step`` moves ``f_k, g_k`` towards ``f_q, g_q`` by EMA
(momentum 0.999); the reference does the same update at the start of the next
forward, which is the same sequence of weights.

Reference details kept: the ST-GCN-¼ backbone is trained with dropout 0.5 in
its blocks (the shipped config sets it) and the key encoder runs in train mode
(BatchNorm on batch statistics, dropout active).

State: ``query.*`` (backbone + projector), ``key.*`` (momentum copy) and
``queue.queue`` / ``queue.ptr``. For evaluation, :meth:`SkeletonCLR.eval_encoders`
returns the query backbone wrapped in a :class:`~skelssl.methods.components.ViewEncoder`:
**it takes joint input** and converts to the view itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.augment import Compose, build_pipeline
from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.data.views import VIEWS, to_view
from skelssl.losses.infonce import info_nce_logits
from skelssl.memory._distributed import batch_shuffle, batch_unshuffle
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.base import Method, register_method
from skelssl.methods.components import (
    EncoderSpec,
    ViewEncoder,
    to_container,
    build_encoder,
    momentum_update,
    projection_head,
)

__all__ = ["SkeletonCLR", "ProjectedEncoder", "AugmentSpec", "build_augment"]

AugmentSpec = Union[str, Mapping[str, Any], Sequence[Mapping[str, Any]], Compose, None]

DEFAULT_ENCODER: dict[str, Any] = {"name": "stgcn_quarter"}


def build_augment(spec: AugmentSpec, layout: SkeletonLayout) -> Compose | None:
    """A pipeline from a shipped name, YAML path, spec or ready :class:`Compose`; ``None``/``False`` = no augmentation."""
    spec = to_container(spec)
    if spec is None or spec is False or spec == "none":
        return None
    if isinstance(spec, Compose):
        return spec
    return build_pipeline(spec, layout=layout)


class ProjectedEncoder(nn.Module):
    """``backbone`` then ``projector``: ``(N, C, T, V, M) -> (N, feature_dim)`` unnormalised."""

    def __init__(self, backbone: nn.Module, projector: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.backbone(x))


@register_method("skeletonclr")
class SkeletonCLR(Method):
    """MoCo-style single-view contrastive learning on skeletons.

    Args:
        encoder: backbone spec ``{"name": <registered encoder>, **kwargs}``
            (``in_channels`` and ``layout`` are filled in), a module (deep-copied)
            or a zero-argument factory.
        view: ``joint``, ``motion``, ``bone`` or ``bone_motion``; the encoder
            sees this view of the augmented joints.
        feature_dim: projector output (contrastive embedding) size.
        queue_size: negatives in the memory (any size; see :class:`MemoryQueue`).
        momentum: EMA coefficient of the key encoder.
        temperature: InfoNCE τ.
        augment: augmentation pipeline (name, path, spec or ``None``).
        layout, in_channels: skeleton layout and channels of the input.
        num_frames: clip length; kept for the method contract (ST-GCN does not
            need it; encoders that do take it in ``encoder``).
        mlp: ``fc-ReLU-fc`` projector (True) or a single ``fc``.
        shuffle_bn: MoCo's batch shuffle for the key encoder under DDP.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        view: str = "joint",
        feature_dim: int = 128,
        queue_size: int = 32768,
        momentum: float = 0.999,
        temperature: float = 0.07,
        augment: AugmentSpec = "skeletonclr",
        layout: str | SkeletonLayout = "ntu25",
        in_channels: int = 3,
        num_frames: int = 50,
        mlp: bool = True,
        shuffle_bn: bool = True,
    ) -> None:
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.view = view
        self.layout = get_layout(layout)
        self.in_channels = int(in_channels)
        self.num_frames = int(num_frames)
        self.feature_dim = int(feature_dim)
        self.momentum = float(momentum)
        self.temperature = float(temperature)
        self.shuffle_bn = bool(shuffle_bn)

        backbone = build_encoder(encoder, self.in_channels, self.layout)
        self.query = ProjectedEncoder(backbone, projection_head(backbone.feature_dim, self.feature_dim, mlp))
        self.key = copy.deepcopy(self.query)
        for p in self.key.parameters():
            p.requires_grad_(False)
        self.queue = MemoryQueue(queue_size, self.feature_dim)
        self.augment = build_augment(augment, self.layout)

    # -- building blocks (CrosSCLR drives these directly) -------------------

    def augment_pair(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Two independently augmented copies of the joint batch (identity without a pipeline)."""
        if self.augment is None:
            return x, x
        return self.augment(x), self.augment(x)

    def encode_query(self, x_joint: Tensor) -> Tensor:
        """L2-normalised query embeddings ``(N, feature_dim)`` of joint input (with gradient)."""
        z = self.query(to_view(x_joint, self.view, self.layout))
        return F.normalize(z.float(), dim=1)

    @torch.no_grad()
    def encode_key(self, x_joint: Tensor) -> Tensor:
        """L2-normalised key embeddings from the momentum encoder, shuffle-BN across ranks."""
        x = to_view(x_joint, self.view, self.layout)
        if self.shuffle_bn:
            x, idx_unshuffle = batch_shuffle(x)
            z = self.key(x)
            z = batch_unshuffle(z, idx_unshuffle)
        else:
            z = self.key(x)
        return F.normalize(z.float(), dim=1)

    def embed(self, x_q: Tensor, x_k: Tensor) -> tuple[Tensor, Tensor]:
        """``(q, k)`` for an augmented pair of joint batches."""
        return self.encode_query(x_q), self.encode_key(x_k)

    # -- Method API ----------------------------------------------------------

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        x_q, x_k = self.augment_pair(x)
        q, k = self.embed(x_q, x_k)
        logits = info_nce_logits(q, k, self.queue.snapshot(), self.temperature)
        target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, target)
        self.queue.enqueue(k)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == 0).float().mean()
            pos_sim = logits[:, 0].mean() * self.temperature
        return {"loss": loss, "acc": acc, "pos_sim": pos_sim}

    def after_optimizer_step(self) -> None:
        momentum_update(self.query, self.key, self.momentum)

    def eval_encoders(self) -> dict[str, nn.Module]:
        """``{view: encoder}``; the encoder takes **joint** input ``(N, C, T, V, M)`` and returns ``(N, D)``."""
        return {self.view: ViewEncoder(self.query.backbone, self.view, self.layout)}

    def extra_repr(self) -> str:
        return (
            f"view={self.view!r}, feature_dim={self.feature_dim}, queue_size={self.queue.size}, "
            f"momentum={self.momentum}, temperature={self.temperature}"
        )
