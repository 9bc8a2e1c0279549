"""2s-AGCN, single stream (Shi et al., CVPR 2019).

Each block's graph is ``A_k + B_k + C_k(x)``: the fixed spatial partition
``A``, a learned offset ``B`` (initialised to zero, as in the paper) and a
data-dependent graph ``C`` — an embedded Gaussian: two 1×1 embeddings θ, φ to
``C_out / 4`` channels, ``softmax_v(θᵀφ / (C·T))`` per subset. The spatial unit
adds its own 1×1 residual (``down``) before the ReLU, as in the original;
blocks, channel plan, strides and the temporal unit are shared with ST-GCN
(:mod:`skelssl.models.gcn`).

Deviation: the data BatchNorm is shared across persons (``V·C``) by default;
``num_person=2`` gives the original's ``M·V·C``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from skelssl.data.graph import partition_adjacency
from skelssl.data.layouts import SkeletonLayout
from skelssl.models.gcn import GraphEncoder, GraphLinear, TemporalConv
from skelssl.models.registry import register_encoder

__all__ = ["AGCN", "AdaptiveGraphSpatial"]


class AdaptiveGraphSpatial(nn.Module):
    """``relu(BN(Σ_k X (A_k + B_k + C_k(X)) W_k) + down(X))``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: Tensor,
        embed_ratio: int = 4,
        learned_graph: bool = True,
        data_graph: bool = True,
    ) -> None:
        super().__init__()
        k = adjacency.shape[0]
        self.register_buffer("A", adjacency.clone(), persistent=False)
        self.B = nn.Parameter(torch.zeros_like(adjacency)) if learned_graph else None
        self.embed_channels = max(1, out_channels // embed_ratio)
        if data_graph:
            # θ and φ for all K subsets in one GEMM: rows [θ_1..θ_K, φ_1..φ_K].
            self.embed_weight = nn.Parameter(torch.empty(2 * k * self.embed_channels, in_channels))
            self.embed_bias = nn.Parameter(torch.empty(2 * k * self.embed_channels))
            nn.init.kaiming_uniform_(self.embed_weight, a=math.sqrt(5))
            nn.init.uniform_(self.embed_bias, -1 / math.sqrt(in_channels), 1 / math.sqrt(in_channels))
        else:
            self.embed_weight = self.embed_bias = None
        self.gcn = GraphLinear(in_channels, out_channels, k)
        self.bn = nn.BatchNorm2d(out_channels)
        self.down = TemporalConv(in_channels, out_channels, 1) if in_channels != out_channels else None

    def data_graph(self, x: Tensor) -> Tensor:
        """``C(x)``: ``(B, K, V, V)``, each column a softmax over source joints."""
        b, _, t, v = x.shape
        k, e = self.A.shape[0], self.embed_channels
        emb = torch.matmul(x.permute(0, 2, 3, 1), self.embed_weight.T) + self.embed_bias  # (B, T, V, 2·K·E)
        emb = emb.view(b, t, v, 2, k, e).permute(3, 0, 4, 2, 1, 5)  # (2, B, K, V, T, E)
        theta = emb[0].reshape(b, k, v, t * e)
        phi = emb[1].reshape(b, k, v, t * e)
        scores = torch.matmul(theta, phi.transpose(-1, -2)) / (t * e)
        return torch.softmax(scores, dim=-2)

    def adjacency(self, x: Tensor) -> Tensor:
        adj = self.A if self.B is None else self.A + self.B
        if self.embed_weight is not None:
            adj = adj + self.data_graph(x)
        return adj

    def forward(self, x: Tensor, ctx: object = None) -> Tensor:
        y = self.gcn(x, self.adjacency(x), self.bn)
        y = y + (x if self.down is None else self.down(x))
        return torch.relu_(y)


@register_encoder("agcn")
class AGCN(GraphEncoder):
    """2s-AGCN joint-stream encoder: ``(N, C, T, V, M)`` → ``(N, feature_dim)``.

    Args mirror :class:`~skelssl.models.stgcn.STGCN`; ``embed_ratio`` sets the
    θ/φ width (``C_out / embed_ratio``), ``learned_graph``/``data_graph``
    switch ``B``/``C`` off for ablations.
    """

    def __init__(
        self,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        width: float = 1.0,
        feature_dim: int | None = None,
        channels: Sequence[int] | None = None,
        strategy: str = "spatial",
        embed_ratio: int = 4,
        learned_graph: bool = True,
        data_graph: bool = True,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_person: int | None = None,
        person_sparse: bool | None = None,
    ) -> None:
        self._adjacency = torch.from_numpy(partition_adjacency(layout, strategy))
        self._graph_opts = dict(embed_ratio=embed_ratio, learned_graph=learned_graph, data_graph=data_graph)
        super().__init__(in_channels, layout, width, feature_dim, channels, temporal_kernel, dropout, num_person,
                         person_sparse)

    def make_spatial(self, in_channels: int, out_channels: int, index: int) -> nn.Module:
        return AdaptiveGraphSpatial(in_channels, out_channels, self._adjacency, **self._graph_opts)
