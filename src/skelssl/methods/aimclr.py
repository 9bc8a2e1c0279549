"""AimCLR: contrastive learning from extremely augmented skeleton sequences (Guo et al., AAAI 2022).

SkeletonCLR's MoCo branch (:class:`~skelssl.methods.momentum.MoCoBranch`) plus
three pieces. One training step, for a batch of joint sequences ``x``:

1. three views: ``x_q, x_k`` with the normal augmentation (``augment``,
   SkeletonCLR's crop + shear) and ``x_e`` with the extreme one
   (``extreme_augment``, the ``strong`` pipeline: crop, shear, spatial flip,
   rotation, temporal flip, Gaussian noise, Gaussian blur, axis mask), each
   converted to ``view`` after augmentation;
2. ``q = g_q(f_q(x_q))``; from **one** pass of ``x_e`` the dense map gives
   ``q_e = g_q(GAP(h_e))`` and, after the energy-based attention-guided drop
   module (EADM, :class:`~skelssl.models.attention_drop.EnergyAttentionDrop`),
   ``q_ed = g_q(GAP(EADM(h_e)))``; keys ``k`` from the momentum copy;
3. loss ``L_NCE(q) + ½ (D³M(q → q_e) + D³M(q → q_ed))``
   (:func:`~skelssl.losses.aimclr.ddm_loss`: the normal query's distribution
   over {key} ∪ queue supervises the extreme ones');
4. from epoch ``mining_epoch`` (0-based; 150 of 300, the release's
   ``epoch > 150`` on 1-based epochs) nearest-neighbour mining: the ``topk``
   queue neighbours of ``q``, ``q_e`` and ``q_ed`` become extra positives of
   ``L_NCE`` (:func:`~skelssl.losses.aimclr.nearest_neighbour_positives`).

The stage is a pure function of ``epoch``, so a resumed run needs no extra
state. Evaluation uses the query backbone (:meth:`AimCLR.backbones`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.losses.aimclr import ddm_loss, nearest_neighbour_positives
from skelssl.losses.infonce import info_nce_logits, multi_positive_nce
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec, build_augment
from skelssl.methods.contrastive import check_view
from skelssl.methods.momentum import MoCoBranch, MomentumMethod
from skelssl.methods.skeletonclr import DEFAULT_ENCODER
from skelssl.models.attention_drop import EnergyAttentionDrop

__all__ = ["AimCLR"]


@register_method("aimclr")
class AimCLR(MoCoBranch, MomentumMethod):
    """MoCo with extreme augmentations, EADM, D³M and nearest-neighbour mining.

    Args:
        encoder, view, augment, feature_dim, mlp, queue_size, temperature: as
            :class:`~skelssl.methods.skeletonclr.SkeletonCLR` (``augment`` is the normal view's).
        extreme_augment: pipeline of the extremely augmented query (``strong``).
        mining_epoch: first (0-based) epoch with nearest-neighbour mining; ``None`` never mines.
        topk: queue neighbours each query adds to the positive set.
        keep_prob: EADM's attention threshold (0.7).
        ddm_weight: weight of the D³M term (½: the mean of its two cross-entropies).
        **kwargs: ``momentum``, ``final_momentum``, ``shuffle_bn``, ``layout``, ``in_channels``, ``num_frames``.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        view: str = "joint",
        augment: AugmentSpec = "skeletonclr",
        extreme_augment: AugmentSpec = "strong",
        feature_dim: int = 128,
        mlp: bool = True,
        queue_size: int = 32768,
        temperature: float = 0.07,
        mining_epoch: int | None = 150,
        topk: int = 1,
        keep_prob: float = 0.7,
        ddm_weight: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 1 <= topk <= queue_size:
            raise ValueError(f"topk must be in 1..queue_size ({queue_size}), got {topk}")
        super().__init__(augment=augment, **kwargs)
        self.view = check_view(view)
        self.feature_dim = int(feature_dim)
        self.temperature = float(temperature)
        self.mining_epoch = None if mining_epoch is None else int(mining_epoch)
        self.topk = int(topk)
        self.ddm_weight = float(ddm_weight)
        self.extreme_augment = build_augment(extreme_augment, self.layout)
        self.query = self.projected_encoder(encoder, self.feature_dim, mlp)
        self.key = self.momentum_copy(self.query)
        self.queue = MemoryQueue(queue_size, self.feature_dim)
        self.eadm = EnergyAttentionDrop(keep_prob)

    def mines(self, epoch: int) -> bool:
        return self.mining_epoch is not None and epoch >= self.mining_epoch

    def encode_extreme(self, x_e: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised ``(q_e, q_ed)``: the extreme view's projection without and with EADM, from one pass."""
        dense, h, z = self.query.encode(self.to_view(x_e, self.view))
        if dense is None:
            raise TypeError("AimCLR's EADM needs an encoder with a dense map (a SkeletonEncoder, e.g. stgcn)")
        dropped = self.query.backbone.pool(self.eadm(dense))
        z_drop = self.query.projector(dropped)
        return F.normalize(z.float(), dim=1), F.normalize(z_drop.float(), dim=1)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        x_q, x_k = self.augment_pair(x)
        x_e = self.extreme_augment(x) if self.extreme_augment is not None else x
        q, k = self.embed(x_q, x_k)
        q_e, q_ed = self.encode_extreme(x_e)
        memory = self.queue.snapshot()
        logits = info_nce_logits(q, k, memory, self.temperature)
        logits_e = info_nce_logits(q_e, k, memory, self.temperature)
        logits_ed = info_nce_logits(q_ed, k, memory, self.temperature)
        mining = self.mines(epoch)
        if mining:
            positives = nearest_neighbour_positives([logits[:, 1:], logits_e[:, 1:], logits_ed[:, 1:]], self.topk)
            nce = multi_positive_nce(logits, positives, "mean")
        else:
            target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
            nce = F.cross_entropy(logits, target)
        ddm = self.ddm_weight * (ddm_loss(logits, logits_e) + ddm_loss(logits, logits_ed))
        self.queue.enqueue(k)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == 0).float().mean()
        return {"loss": nce + ddm, "nce": nce.detach(), "ddm": ddm.detach(), "acc": acc,
                "mining": torch.tensor(float(mining), device=nce.device), "memory_cone": self.queue.cone()}

    def backbones(self) -> dict[str, nn.Module]:
        return {self.view: self.query.backbone}

    def extra_repr(self) -> str:
        return (f"view={self.view!r}, queue_size={self.queue.size}, temperature={self.temperature}, "
                f"mining_epoch={self.mining_epoch}, topk={self.topk}")
