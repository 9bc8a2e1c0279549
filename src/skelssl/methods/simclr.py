"""View/distance contrastive learning (Gao, Yang, Du, NeurIPS 2020 pre-registration workshop, §3–4).

SimCLR on skeleton sequences, with virtual cameras as the augmentation. One
training step, for a batch of ``N`` joint sequences:

1. two views of every sequence from independent virtual cameras
   (``augment``, default ``simclr_view_distance``: the observation camera of
   eq. 1–3, α, β, γ ∈ {0°, 60°, …, 300°}, d = k × 0.5 m with k ∈ {0, …, 5},
   one camera per sequence), converted to the method's ``view``;
2. both views through the shared base encoder in one pass (its BatchNorm sees
   the 2N clips together; under DDP the engine's ``train.sync_bn`` makes it see
   every rank's, the paper's fix for BN information leakage), then the
   2-layer MLP projector ``f(·)``: ``z = f(h)``;
3. NT-Xent (eq. 4–5, :mod:`skelssl.losses.ntxent`) over the 2N embeddings, τ
   = ``temperature``; under DDP every rank's embeddings are gathered *with
   gradient*, so each query meets all 2(N_global − 1) negatives and the loss
   and gradients equal a single process's on the global batch.

Downstream tasks use the representation ``h`` before the projector:
:meth:`eval_encoders` gives the base encoder. The paper's optimiser (LARS for
every batch size) and schedule (warm-up + cosine) are the engine's ``lars``
and ``cosine`` (``configs/pretrain/simclr.yaml``); its experiment grid is the
augmentation presets ``simclr_view_ab`` / ``_ag`` / ``_bg`` / ``simclr_distance``
and encoder variants (``benchmarks/gao_grid.py``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout
from skelssl.losses.ntxent import nt_xent_loss
from skelssl.memory._distributed import all_gather_with_grad
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec
from skelssl.methods.contrastive import ContrastiveMethod, check_view

__all__ = ["SimCLR"]

DEFAULT_ENCODER: dict[str, Any] = {"name": "stgcn_quarter"}


@register_method("simclr")
class SimCLR(ContrastiveMethod):
    """SimCLR with view/distance augmentation.

    Args:
        encoder: base encoder spec (ST-GCN, the 2-D CNN ``resnet`` ...), module or factory.
        view: joint / motion / bone / bone_motion, taken after the cameras.
        feature_dim: projector output size.
        mlp: 2-layer MLP projector (``fc-ReLU-fc``, the paper) or one ``fc``.
        temperature: NT-Xent τ.
        augment, layout, in_channels, num_frames: see
            :class:`~skelssl.methods.contrastive.ContrastiveMethod`.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        view: str = "joint",
        feature_dim: int = 128,
        mlp: bool = True,
        temperature: float = 0.5,
        augment: AugmentSpec = "simclr_view_distance",
        layout: str | SkeletonLayout = "ntu25",
        in_channels: int = 3,
        num_frames: int | None = None,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        super().__init__(augment=augment, layout=layout, in_channels=in_channels, num_frames=num_frames)
        self.view = check_view(view)
        self.temperature = float(temperature)
        self.encoder = self.projected_encoder(encoder, feature_dim, mlp)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Any]:
        x_a, x_b = self.augment_pair(batch[0])
        n = x_a.shape[0]
        z = F.normalize(self.encoder(self.to_view(torch.cat([x_a, x_b]), self.view)).float(), dim=1)
        # Rows of every rank, in rank order, each rank's first views then its second views.
        keys = all_gather_with_grad(z).view(-1, 2, n, z.shape[1])
        rank = dist.get_rank() if keys.shape[0] > 1 else 0
        loss = nt_xent_loss(z[:n], z[n:], self.temperature, keys[:, 0].flatten(0, 1), keys[:, 1].flatten(0, 1),
                            offset=rank * n)
        with torch.no_grad():
            pos_sim = (z[:n] * z[n:]).sum(dim=1).mean()
            # Share of queries whose nearest other sample is their partner (local keys suffice for a log).
            sims = z @ z.t()
            sims.fill_diagonal_(-2.0)
            partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
            acc = (sims.argmax(dim=1) == partner).float().mean()
        return {"loss": loss, "acc": acc, "pos_sim": pos_sim}

    def backbones(self) -> dict[str, nn.Module]:
        return {self.view: self.encoder.backbone}

    def extra_repr(self) -> str:
        return f"view={self.view!r}, temperature={self.temperature}, augment={getattr(self.augment, 'name', None)!r}"
