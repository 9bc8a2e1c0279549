"""AS-GCN (Li et al., CVPR 2019): actional + structural links on the ST-GCN backbone.

* **S-links**: the spatial partition of the skeleton graph extended to ``P``
  hops (``partition_adjacency(strategy="spatial", max_hop=P)``: the root plus a
  centripetal and a centrifugal subset per hop, built from powers of the
  adjacency), with learnable edge importance per block.
* **A-links**: an A-link inference module reads each person's trajectories and
  predicts, for every ordered joint pair, a distribution over ``link_types + 1``
  types, the first meaning "no link". It is a node→edge→node→edge MLP encoder as
  in the paper (NRI-style). Training samples the types with Gumbel-softmax
  (straight-through when ``hard``); eval takes the argmax (or the softmax when
  not ``hard``), so inference is deterministic. Each type gives a graph
  ``D⁻¹(A_type + I)`` (column-normalised, self-loops added, as in the code).
* Every block computes ``Σ_s X S_s W_s + λ Σ_a X A_a W_a`` (one GEMM: the
  structural and the λ-scaled actional graphs are stacked as subsets).

Simplifications, deliberately lightweight: (1) the inference module is trained
end-to-end with the encoder instead of being pre-trained with AS-GCN's
future-pose decoder, and the prediction head (the "recon" branch) is omitted —
use :mod:`skelssl.models.decoders` for pretext decoders; (2) trajectories are
average-pooled to ``link_frames`` time steps before the encoder, so any ``T``
works (the original flattens all 50 frames); (3) the MLPs use ELU without the
per-MLP BatchNorm. Defaults follow the released config: ``P = 3`` hops, 3
actional types + "none", hidden 128, τ = 0.5 (hard), λ = 0.5.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.graph import partition_adjacency
from skelssl.data.layouts import SkeletonLayout
from skelssl.models.gcn import GraphEncoder, GraphLinear
from skelssl.models.registry import register_encoder

__all__ = ["ASGCN", "ALinkInference", "ActionalStructuralSpatial"]


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ELU(), nn.Linear(n_hidden, n_out), nn.ELU())


class ALinkInference(nn.Module):
    """Infers ``(B, link_types, V, V)`` actional graphs from ``(B, C, T, V)`` joint trajectories."""

    def __init__(
        self,
        in_channels: int,
        link_types: int = 3,
        hidden: int = 128,
        link_frames: int = 16,
        tau: float = 0.5,
        hard: bool = True,
    ) -> None:
        super().__init__()
        self.link_frames, self.tau, self.hard, self.link_types = link_frames, tau, hard, link_types
        self.node1 = _mlp(in_channels * link_frames, hidden, hidden)
        self.edge1 = _mlp(2 * hidden, hidden, hidden)
        self.node2 = _mlp(hidden, hidden, hidden)
        self.edge2 = _mlp(3 * hidden, hidden, hidden)
        self.out = nn.Linear(hidden, link_types + 1)

    @staticmethod
    def node_to_edge(h: Tensor) -> Tensor:
        """``(B, V, H)`` → ``(B, V_send, V_recv, 2H)``: sender and receiver features per ordered pair."""
        b, v, d = h.shape
        return torch.cat((h.unsqueeze(2).expand(b, v, v, d), h.unsqueeze(1).expand(b, v, v, d)), dim=-1)

    def logits(self, x: Tensor) -> Tensor:
        b, c, _, v = x.shape
        traj = F.adaptive_avg_pool2d(x, (self.link_frames, v))  # (B, C, F, V)
        h = self.node1(traj.permute(0, 3, 1, 2).reshape(b, v, c * self.link_frames))
        e = self.edge1(self.node_to_edge(h))
        off_diag = 1.0 - torch.eye(v, dtype=x.dtype, device=x.device)
        # edge → node: mean of the messages a joint receives from the others.
        h = self.node2((e * off_diag[None, :, :, None]).sum(dim=1) / (v - 1))
        e = self.edge2(torch.cat((self.node_to_edge(h), e), dim=-1))
        return self.out(e)  # (B, V_send, V_recv, link_types + 1)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.logits(x)
        if self.training:
            types = F.gumbel_softmax(logits, tau=self.tau, hard=self.hard, dim=-1)
        elif self.hard:
            types = F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
        else:
            types = torch.softmax(logits / self.tau, dim=-1)
        v = logits.shape[1]
        eye = torch.eye(v, dtype=x.dtype, device=x.device)
        links = types[..., 1:].permute(0, 3, 1, 2) * (1.0 - eye) + eye  # drop "no link", add self-loops
        return links / links.sum(dim=-2, keepdim=True)


class ActionalStructuralSpatial(nn.Module):
    """``relu(BN(Σ_s X S_s W_s + λ Σ_a X A_a W_a))`` with per-block edge importance on S."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        structural: Tensor,
        link_types: int,
        lambda_act: float = 0.5,
        edge_importance: bool = True,
    ) -> None:
        super().__init__()
        self.lambda_act = lambda_act
        self.register_buffer("S", structural.clone(), persistent=False)
        self.edge_importance = nn.Parameter(torch.ones_like(structural)) if edge_importance else None
        self.gcn = GraphLinear(in_channels, out_channels, structural.shape[0] + link_types)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor, actional: Tensor) -> Tensor:
        s = self.S if self.edge_importance is None else self.S * self.edge_importance
        adj = torch.cat((s.expand(actional.shape[0], *s.shape), self.lambda_act * actional), dim=1)
        return torch.relu_(self.gcn(x, adj, self.bn))


@register_encoder("asgcn")
class ASGCN(GraphEncoder):
    """AS-GCN encoder: ``(N, C, T, V, M)`` → ``(N, feature_dim)`` (see module docstring)."""

    def __init__(
        self,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        width: float = 1.0,
        feature_dim: int | None = None,
        channels: Sequence[int] | None = None,
        max_hop: int = 3,
        link_types: int = 3,
        link_hidden: int = 128,
        link_frames: int = 16,
        tau: float = 0.5,
        hard: bool = True,
        lambda_act: float = 0.5,
        edge_importance: bool = True,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_person: int | None = None,
        person_sparse: bool | None = None,
    ) -> None:
        self._structural = torch.from_numpy(partition_adjacency(layout, "spatial", max_hop))
        self._spatial_opts = dict(link_types=link_types, lambda_act=lambda_act, edge_importance=edge_importance)
        super().__init__(in_channels, layout, width, feature_dim, channels, temporal_kernel, dropout, num_person,
                         person_sparse)
        self.links = ALinkInference(in_channels, link_types, link_hidden, link_frames, tau, hard)

    def make_spatial(self, in_channels: int, out_channels: int, index: int) -> nn.Module:
        return ActionalStructuralSpatial(in_channels, out_channels, self._structural, **self._spatial_opts)

    def context(self, x: Tensor) -> Tensor:
        return self.links(x)
