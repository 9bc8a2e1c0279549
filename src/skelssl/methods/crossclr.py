"""CrosSCLR: cross-view consistent knowledge mining (Li et al., CVPR 2021, §3.2).

One :class:`~skelssl.methods.momentum.ViewBranch` per view (2 or 3 of joint /
motion / bone / bone_motion), each with its own query encoder, momentum
encoder, projector and queue, as a SkeletonCLR has. Every step augments the joint batch
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
from typing import Any, Literal

import torch
from torch import Tensor, nn

from skelssl.losses.infonce import cross_view_loss, info_nce_loss
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec, to_container
from skelssl.methods.contrastive import check_view
from skelssl.methods.momentum import MomentumMethod, ViewBranch
from skelssl.methods.skeletonclr import DEFAULT_ENCODER

__all__ = ["CrosSCLR"]


@register_method("crossclr")
class CrosSCLR(MomentumMethod):
    """Cross-view contrastive learning over 2 or 3 skeleton views.

    Args:
        encoder, augment, feature_dim, mlp, queue_size, temperature: as
            :class:`~skelssl.methods.skeletonclr.SkeletonCLR`, for every branch.
        views: the views, e.g. ``("joint", "motion", "bone")`` (default) or
            ``("joint", "motion")``.
        cross_epoch: first (0-based) epoch of the cross-view stage.
        topk: positives mined per query by the other view (K in the paper, 1).
        context: keep the embedding-context logits ``S_u ∘ S_v`` (False is the
            paper's "w/o embedding context" ablation).
        positive_reduction: ``"mean"`` (released code) or ``"sum"`` over the
            positive set, see :func:`~skelssl.losses.infonce.multi_positive_nce`.
        **kwargs: ``momentum``, ``final_momentum``, ``shuffle_bn``, ``layout``,
            ``in_channels``, ``num_frames``: see :class:`~skelssl.methods.momentum.MomentumMethod`.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        views: Sequence[str] = ("joint", "motion", "bone"),
        augment: AugmentSpec = "skeletonclr",
        feature_dim: int = 128,
        mlp: bool = True,
        queue_size: int = 32768,
        temperature: float = 0.07,
        cross_epoch: int = 150,
        topk: int = 1,
        context: bool = True,
        positive_reduction: Literal["mean", "sum"] = "mean",
        **kwargs: Any,
    ) -> None:
        views = tuple(check_view(v) for v in to_container(views))
        if len(views) < 2 or len(set(views)) != len(views):
            raise ValueError(f"CrosSCLR needs at least two distinct views, got {views}")
        if not 1 <= topk <= queue_size:
            raise ValueError(f"topk must be in 1..queue_size ({queue_size}), got {topk}")
        if positive_reduction not in ("mean", "sum"):
            raise ValueError(f"positive_reduction must be 'mean' or 'sum', got {positive_reduction!r}")
        super().__init__(augment=augment, **kwargs)
        self.views = views
        self.temperature = float(temperature)
        self.cross_epoch = int(cross_epoch)
        self.topk = int(topk)
        self.context = bool(context)
        self.positive_reduction = positive_reduction
        self.branches = nn.ModuleDict()
        for view in views:
            query = self.projected_encoder(encoder, feature_dim, mlp)
            self.branches[view] = ViewBranch(view, self.layout, query, self.momentum_copy(query),
                                             MemoryQueue(queue_size, feature_dim), self.shuffle_bn)

    def in_cross_stage(self, epoch: int) -> bool:
        return epoch >= self.cross_epoch

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

    def backbones(self) -> dict[str, nn.Module]:
        return {view: branch.query.backbone for view, branch in self.branches.items()}

    def extra_repr(self) -> str:
        return (
            f"views={self.views}, cross_epoch={self.cross_epoch}, topk={self.topk}, "
            f"context={self.context}, positive_reduction={self.positive_reduction!r}"
        )
