"""Recurrent encoders: ASSL's bidirectional GRU and a bidirectional LSTM.

Each frame is one vector of all persons' joints, ``M·V·C`` values (persons are
not folded into the batch: the RNN sees them side by side, so ``num_person``
is fixed at construction; inputs with fewer persons are zero-padded). The
whole sequence goes through one ``nn.GRU``/``nn.LSTM`` call — cuDNN on GPU,
fused oneDNN/ATen kernels on CPU — never a Python loop over frames.

Feature (``pooling``): ``"mean"`` (default) averages the top layer's per-frame
outputs over time, ``D = 2·hidden``; ``"last"`` concatenates the top layer's
final forward and backward hidden states (the forward one has read the whole
sequence, the backward one ends at frame 0). Mean pooling is the default
because zero-padded tails leave it nearly unchanged while they are the last
thing the forward direction reads.

``lstm``: CrosSCLR's public code (LinguoLi/CrosSCLR) ships only the ST-GCN
encoder, so no LSTM configuration could be checked; ``lstm`` mirrors ``bigru``
(3 bidirectional layers, hidden 512) with LSTM cells, so the two differ only
in the cell.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.models.base import SkeletonEncoder
from skelssl.models.registry import register_encoder

__all__ = ["RNNEncoder", "frames_from_skeleton", "skeleton_from_frames"]


def frames_from_skeleton(x: Tensor, num_person: int) -> Tensor:
    """``(N, C, T, V, M)`` → ``(N, T, num_person·V·C)``, zero-padding missing persons."""
    n, c, t, v, m = x.shape
    if m > num_person:
        raise ValueError(f"input has {m} persons, the model was built for {num_person}")
    if m < num_person:
        x = F.pad(x, (0, num_person - m))
    return x.permute(0, 2, 4, 3, 1).reshape(n, t, num_person * v * c)


def skeleton_from_frames(frames: Tensor, channels: int, joints: int, num_person: int) -> Tensor:
    """Inverse of :func:`frames_from_skeleton`: ``(N, T, M·V·C)`` → ``(N, C, T, V, M)``."""
    n, t, _ = frames.shape
    return frames.view(n, t, num_person, joints, channels).permute(0, 4, 1, 3, 2)


class RNNEncoder(SkeletonEncoder):
    """Multi-layer (bi)directional GRU/LSTM over per-frame skeleton vectors."""

    def __init__(
        self,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        num_person: int = 2,
        hidden_size: int = 512,
        num_layers: int = 3,
        bidirectional: bool = True,
        cell: Literal["gru", "lstm"] = "gru",
        pooling: Literal["mean", "last"] = "mean",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        rnn_cls = {"gru": nn.GRU, "lstm": nn.LSTM}.get(cell)
        if rnn_cls is None:
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.layout = get_layout(layout)
        self.in_channels, self.num_person, self.pooling = in_channels, num_person, pooling
        self.directions = 2 if bidirectional else 1
        self.rnn = rnn_cls(
            num_person * self.layout.num_joints * in_channels,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.feature_dim = hidden_size * self.directions

    def _run(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x)
        out, state = self.rnn(frames_from_skeleton(x, self.num_person))
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
        return out, h_n

    def forward_features(self, x: Tensor) -> Tensor:
        """Per-frame outputs as ``(N, 1, D, T, 1)``."""
        out, _ = self._run(x)
        return out.transpose(1, 2)[:, None, :, :, None]

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)[1]

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, h_n = self._run(x)
        pooled = out.mean(dim=1) if self.pooling == "mean" else torch.cat(list(h_n[-self.directions :]), dim=-1)
        return out.transpose(1, 2)[:, None, :, :, None], pooled


# The class itself (not a **kwargs wrapper), so a misspelled option is caught from its signature.
register_encoder("bigru", cell="gru")(RNNEncoder)
register_encoder("lstm", cell="lstm")(RNNEncoder)
