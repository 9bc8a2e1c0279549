"""CrosSCLR: cross-view consistent knowledge mining (Li et al., CVPR 2021, §3.2).

One :class:`~skelssl.methods.skeletonclr.SkeletonCLR` branch per view (2 or 3
of joint / motion / bone / bone_motion), each with its own query encoder,
momentum encoder, projector and queue. Every step augments the joint batch
**once** (two copies) and each branch derives its view from those same
copies, so all views see the same samples; all queues enqueue the same batch
at the same pointer and stay slot-aligned, which the cross-view mining needs.

* Stage 1 (``epoch < cross_epoch``): the sum of the per-view InfoNCE losses.
* Stage 2 (``epoch >= cross_epoch``): for every ordered pair of views the
  cross-view loss ``L_{u←v}`` of :mod:`skelssl.losses.infonce` (top-``topk``
  positives mined by view ``v``, embedding context ``S_u ∘ S_v`` unless
  ``context=False``), averaged over ``v ≠ u`` and summed over ``u``.

``epoch`` is the 0-based number of the epoch being trained: with the default
``cross_epoch=150`` of a 300-epoch run, epochs 0–149 are single-view and
150–299 cross-view, the reference's split (its 1-based epochs 1–150 / 151–300).
The stage is a pure function of ``epoch``, so a resumed run needs no extra state.

Deviations from the released code, on purpose:

* every view has its own projector. The reference's three-view model builds
  the motion and bone projectors around the joint projector's layers (a
  side effect of how it swaps in the MLP), sharing weights across views;
* every branch's momentum encoder is updated in both stages. The reference's
  cross-view step only updates the motion key encoder (the joint and bone key
  encoders stay frozen for the second half of training).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from skelssl.augment import Compose
from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.data.views import VIEWS
from skelssl.losses.infonce import cross_view_loss, info_nce_loss
from skelssl.methods.base import Method, register_method
from skelssl.methods.components import EncoderSpec, ViewEncoder, to_container
from skelssl.methods.skeletonclr import DEFAULT_ENCODER, AugmentSpec, SkeletonCLR, build_augment

__all__ = ["CrosSCLR"]


@register_method("crossclr")
class CrosSCLR(Method):
    """Cross-view contrastive learning over 2 or 3 skeleton views.

    Args:
        encoder, feature_dim, queue_size, momentum, temperature, augment,
        layout, in_channels, num_frames, mlp, shuffle_bn: as
            :class:`~skelssl.methods.skeletonclr.SkeletonCLR`, for every branch.
        views: the views, e.g. ``("joint", "motion", "bone")`` (default) or
            ``("joint", "motion")``.
        cross_epoch: first (0-based) epoch of the cross-view stage.
        topk: positives mined per query by the other view (K in the paper, 1).
        context: keep the embedding-context logits ``S_u ∘ S_v`` (False is the
            paper's "w/o embedding context" ablation).
        positive_reduction: ``"mean"`` (released code) or ``"sum"`` over the
            positive set, see :func:`~skelssl.losses.infonce.multi_positive_nce`.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        views: Sequence[str] = ("joint", "motion", "bone"),
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
        cross_epoch: int = 150,
        topk: int = 1,
        context: bool = True,
        positive_reduction: Literal["mean", "sum"] = "mean",
    ) -> None:
        super().__init__()
        views = tuple(to_container(views))
        if len(views) < 2 or len(set(views)) != len(views):
            raise ValueError(f"CrosSCLR needs at least two distinct views, got {views}")
        unknown = [v for v in views if v not in VIEWS]
        if unknown:
            raise ValueError(f"unknown view(s) {unknown}; choose from {VIEWS}")
        if not 1 <= topk <= queue_size:
            raise ValueError(f"topk must be in 1..queue_size ({queue_size}), got {topk}")
        if positive_reduction not in ("mean", "sum"):
            raise ValueError(f"positive_reduction must be 'mean' or 'sum', got {positive_reduction!r}")
        self.views = views
        self.layout = get_layout(layout)
        self.temperature = float(temperature)
        self.cross_epoch = int(cross_epoch)
        self.topk = int(topk)
        self.context = bool(context)
        self.positive_reduction = positive_reduction
        self.augment: Compose | None = build_augment(augment, self.layout)
        self.branches = nn.ModuleDict(
            {
                v: SkeletonCLR(
                    encoder=encoder,
                    view=v,
                    feature_dim=feature_dim,
                    queue_size=queue_size,
                    momentum=momentum,
                    temperature=temperature,
                    augment=None,
                    layout=self.layout,
                    in_channels=in_channels,
                    num_frames=num_frames,
                    mlp=mlp,
                    shuffle_bn=shuffle_bn,
                )
                for v in views
            }
        )

    def in_cross_stage(self, epoch: int) -> bool:
        return epoch >= self.cross_epoch

    def augment_pair(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.augment is None:
            return x, x
        return self.augment(x), self.augment(x)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x_q, x_k = self.augment_pair(batch[0])
        q: dict[str, Tensor] = {}
        k: dict[str, Tensor] = {}
        memory: dict[str, Tensor] = {}
        for view, branch in self.branches.items():
            q[view], k[view] = branch.embed(x_q, x_k)
            memory[view] = branch.queue.snapshot()

        cross = self.in_cross_stage(epoch)
        out: dict[str, Tensor] = {}
        total = q[self.views[0]].new_zeros(())
        for u in self.views:
            if cross:
                pair_losses = [
                    cross_view_loss(
                        q[u], k[u], memory[u], q[v], memory[v],
                        temperature=self.temperature,
                        topk=self.topk,
                        context=self.context,
                        positive_reduction=self.positive_reduction,
                    )
                    for v in self.views
                    if v != u
                ]
                loss_u = torch.stack(pair_losses).mean()
            else:
                loss_u = info_nce_loss(q[u], k[u], memory[u], self.temperature)
            out[f"loss_{u}"] = loss_u.detach()
            total = total + loss_u

        for view, branch in self.branches.items():
            branch.queue.enqueue(k[view])
        out["loss"] = total
        out["cross_stage"] = torch.tensor(float(cross), device=total.device)
        return out

    def after_optimizer_step(self) -> None:
        for branch in self.branches.values():
            branch.after_optimizer_step()

    def eval_encoders(self) -> dict[str, nn.Module]:
        """``{view: encoder}`` for every view; each takes **joint** input and converts it itself."""
        return {v: ViewEncoder(b.query.backbone, v, self.layout) for v, b in self.branches.items()}

    def extra_repr(self) -> str:
        return (
            f"views={self.views}, cross_epoch={self.cross_epoch}, topk={self.topk}, "
            f"context={self.context}, positive_reduction={self.positive_reduction!r}"
        )
