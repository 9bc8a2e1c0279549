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

The momentum encoder, shuffle-BN, queue and view handling come from
:mod:`skelssl.methods.momentum` (SkeletonCLR is one :class:`~skelssl.methods.momentum.MoCoBranch`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.losses.infonce import info_nce_logits
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec
from skelssl.methods.contrastive import check_view
from skelssl.methods.momentum import MoCoBranch, MomentumMethod

__all__ = ["SkeletonCLR", "DEFAULT_ENCODER"]

DEFAULT_ENCODER: dict[str, Any] = {"name": "stgcn_quarter"}


@register_method("skeletonclr")
class SkeletonCLR(MoCoBranch, MomentumMethod):
    """MoCo-style single-view contrastive learning on skeletons.

    Args:
        encoder: backbone spec ``{"name": <registered encoder>, **kwargs}``
            (``in_channels`` and ``layout`` are filled in), a module (deep-copied)
            or a zero-argument factory.
        view: ``joint``, ``motion``, ``bone`` or ``bone_motion``; the encoder
            sees this view of the augmented joints.
        augment: augmentation pipeline (name, path, spec or ``None``).
        feature_dim: projector output (contrastive embedding) size.
        mlp: ``fc-ReLU-fc`` projector (True) or a single ``fc``.
        queue_size: negatives in the memory (any size; see :class:`MemoryQueue`).
        temperature: InfoNCE τ.
        **kwargs: ``momentum`` (0.999), ``final_momentum``, ``shuffle_bn`` and the
            dataset's ``layout``, ``in_channels``, ``num_frames``: see
            :class:`~skelssl.methods.momentum.MomentumMethod`.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        view: str = "joint",
        augment: AugmentSpec = "skeletonclr",
        feature_dim: int = 128,
        mlp: bool = True,
        queue_size: int = 32768,
        temperature: float = 0.07,
        **kwargs: Any,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        super().__init__(augment=augment, **kwargs)
        self.view = check_view(view)
        self.feature_dim = int(feature_dim)
        self.temperature = float(temperature)
        self.query = self.projected_encoder(encoder, self.feature_dim, mlp)
        self.key = self.momentum_copy(self.query)
        self.queue = MemoryQueue(queue_size, self.feature_dim)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x_q, x_k = self.augment_pair(batch[0])
        q, k = self.embed(x_q, x_k)
        logits = info_nce_logits(q, k, self.queue.snapshot(), self.temperature)
        target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, target)
        self.queue.enqueue(k)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == 0).float().mean()
            pos_sim = logits[:, 0].mean() * self.temperature
        # memory_cone: mean cosine between queue entries, the collapse signal (1 = one point).
        return {"loss": loss, "acc": acc, "pos_sim": pos_sim, "memory_cone": self.queue.cone()}

    def backbones(self) -> dict[str, nn.Module]:
        return {self.view: self.query.backbone}

    def extra_repr(self) -> str:
        return (
            f"view={self.view!r}, feature_dim={self.feature_dim}, queue_size={self.queue.size}, "
            f"momentum={self.momentum}, temperature={self.temperature}"
        )
