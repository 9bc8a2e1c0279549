"""Pretext decoders: GRU inpainting (ASSL/S4L) and the ST-GCN up-sampling decoder (MCC)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from skelssl.data.graph import partition_adjacency
from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.models.gcn import GraphLinear, STBlock
from skelssl.models.registry import register_decoder
from skelssl.models.rnn import frames_from_skeleton, skeleton_from_frames
from skelssl.models.stgcn import STGCNSpatial

__all__ = ["GRUInpaintDecoder", "STGCNUpsampleDecoder"]


@register_decoder("gru_inpaint")
class GRUInpaintDecoder(nn.Module):
    """Skeleton inpainting conditioned on a feature ``h``.

    Each frame of the masked sequence is concatenated with ``h`` and fed to a
    2-layer unidirectional GRU whose initial states are projections of ``h``;
    a linear layer maps every output to that frame's ``M·V·C`` coordinates.
    ``forward(masked (N, C, T, V, M), h (N, D))`` → ``(N, C, T, V, M)``.
    """

    def __init__(
        self,
        feature_dim: int,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        num_person: int = 2,
        hidden_size: int = 512,
        num_layers: int = 2,
    ) -> None:
        super().__init__()
        self.layout = get_layout(layout)
        self.in_channels, self.num_person, self.num_layers = in_channels, num_person, num_layers
        frame_dim = num_person * self.layout.num_joints * in_channels
        self.init_state = nn.Linear(feature_dim, num_layers * hidden_size)
        self.gru = nn.GRU(frame_dim + feature_dim, hidden_size, num_layers, batch_first=True)
        self.out = nn.Linear(hidden_size, frame_dim)

    def forward(self, masked: Tensor, h: Tensor) -> Tensor:
        if masked.shape[-1] != self.num_person:
            raise ValueError(f"decoder built for M={self.num_person}, got M={masked.shape[-1]}")
        frames = frames_from_skeleton(masked, self.num_person)
        n, t, _ = frames.shape
        inp = torch.cat((frames, h[:, None, :].expand(n, t, h.shape[-1])), dim=-1)
        h0 = torch.tanh(self.init_state(h)).view(n, self.num_layers, -1).transpose(0, 1).contiguous()
        out, _ = self.gru(inp, h0)
        return skeleton_from_frames(self.out(out), self.in_channels, self.layout.num_joints, self.num_person)


@register_decoder("stgcn_upsample")
class STGCNUpsampleDecoder(nn.Module):
    """Dense encoder features ``(N, M, D, T', V)`` → sequence ``(N, C, rate·T', V, M)``.

    ST-GCN blocks (stride 1) then a spatio-temporal transposed convolution: a
    graph convolution followed by a ``(rate, 1)`` transposed temporal conv with
    stride ``rate``, so the output has exactly ``rate × T'`` frames — MCC's
    decoder regresses the interpolated (motion-continuous) sequence.
    """

    def __init__(
        self,
        feature_dim: int,
        out_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        rate: int = 2,
        hidden: Sequence[int] = (128, 64),
        temporal_kernel: int = 9,
    ) -> None:
        super().__init__()
        if rate < 1:
            raise ValueError(f"rate must be ≥ 1, got {rate}")
        self.layout = get_layout(layout)
        self.rate = rate
        adjacency = torch.from_numpy(partition_adjacency(self.layout, "spatial"))
        blocks = []
        c_in = feature_dim
        for c_out in hidden:
            blocks.append(STBlock(STGCNSpatial(c_in, c_out, adjacency), c_in, c_out, 1, temporal_kernel))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.register_buffer("A", adjacency, persistent=False)
        self.graph = GraphLinear(c_in, c_in, adjacency.shape[0])
        self.upsample = nn.ConvTranspose2d(c_in, out_channels, (rate, 1), (rate, 1))

    def forward(self, features: Tensor) -> Tensor:
        if features.dim() != 5:
            raise ValueError(f"expected (N, M, D, T', V) features, got shape {tuple(features.shape)}")
        n, m, d, t, v = features.shape
        h = features.reshape(n * m, d, t, v).contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            h = block(h)
        h = torch.relu(self.graph(h, self.A))
        y = self.upsample(h)  # (N·M, C, rate·T', V)
        return y.view(n, m, *y.shape[1:]).permute(0, 2, 3, 4, 1)
