"""ST-GCN (Yan et al., AAAI 2018) and the quarter-width variant of CrosSCLR/AimCLR/ActCLR.

Ten blocks of spatial graph convolution (spatial partitioning, K = 3 subsets,
learnable edge importance per block) and a 9-frame temporal convolution, with
residuals, strides 2 at blocks 5 and 8. ``stgcn_quarter`` is ``width=0.25``
with a 256-channel last block, the ``hidden_channels=16, hidden_dim=256``
model of CrosSCLR's configs.

The data BatchNorm normalises ``V·C`` features shared across persons, as in the
ST-GCN and CrosSCLR code (pass ``num_person=M`` for 2s-AGCN's ``M·V·C``).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from skelssl.data.graph import partition_adjacency
from skelssl.data.layouts import SkeletonLayout
from skelssl.models.gcn import GraphEncoder, GraphLinear
from skelssl.models.registry import register_encoder

__all__ = ["STGCN", "STGCNSpatial"]


class STGCNSpatial(nn.Module):
    """Fixed partitioned graph × learnable edge importance → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor, edge_importance: bool = True) -> None:
        super().__init__()
        self.register_buffer("A", adjacency.clone(), persistent=False)
        self.edge_importance = nn.Parameter(torch.ones_like(adjacency)) if edge_importance else None
        self.gcn = GraphLinear(in_channels, out_channels, adjacency.shape[0])
        self.bn = nn.BatchNorm2d(out_channels)

    def adjacency(self) -> Tensor:
        return self.A if self.edge_importance is None else self.A * self.edge_importance

    def forward(self, x: Tensor, ctx: object = None) -> Tensor:
        return torch.relu_(self.gcn(x, self.adjacency(), self.bn))


@register_encoder("stgcn")
@register_encoder("stgcn_quarter", width=0.25, feature_dim=256)
class STGCN(GraphEncoder):
    """ST-GCN encoder: ``(N, C, T, V, M)`` → ``(N, feature_dim)``.

    Args:
        in_channels: input channels per joint (3 for x, y, z or x, y, score).
        layout: skeleton layout name or object; gives V and the graph.
        width: channel multiplier of the 64…256 plan (0.25 for the quarter model).
        feature_dim: channels of the last block (default: ``256 × width``).
        strategy, max_hop: graph partitioning (see :func:`partition_adjacency`).
        edge_importance: learnable per-block mask on the adjacency.
        dropout: dropout after each temporal conv (not in the first block).
        num_person: if set, data BN over ``M·V·C`` instead of ``V·C``.
        person_sparse: encode only non-empty body slots and average over them
            (default: on unless ``num_person`` is set); ``False`` encodes every
            slot as the reference code does. See :class:`~skelssl.models.gcn.GraphEncoder`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        width: float = 1.0,
        feature_dim: int | None = None,
        channels: Sequence[int] | None = None,
        strategy: str = "spatial",
        max_hop: int = 1,
        edge_importance: bool = True,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_person: int | None = None,
        person_sparse: bool | None = None,
    ) -> None:
        self._adjacency = torch.from_numpy(partition_adjacency(layout, strategy, max_hop))
        self._edge_importance = edge_importance
        super().__init__(in_channels, layout, width, feature_dim, channels, temporal_kernel, dropout, num_person,
                         person_sparse)

    def make_spatial(self, in_channels: int, out_channels: int, index: int) -> nn.Module:
        return STGCNSpatial(in_channels, out_channels, self._adjacency, self._edge_importance)
