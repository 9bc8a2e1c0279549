"""The encoder interface shared by every backbone, and the input normalisation.

Every encoder maps ``(N, C, T, V, M)`` to pooled features ``(N, D)`` and exposes
the dense map ``(N, M, D, T', V)`` before pooling through ``forward_features``, or
both from one pass through ``features`` (ActCLR's actionlet pooling and MCC's
decoder read it). Persons are folded into
the batch and their features averaged, as in ST-GCN and its descendants.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Iterator

import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout

__all__ = ["SkeletonEncoder", "DataNorm", "pointwise_conv2d", "PointwiseConv2d", "eval_mode"]


class SkeletonEncoder(nn.Module, metaclass=abc.ABCMeta):
    """Base class: subclasses set ``feature_dim`` and ``layout`` and implement ``forward_features``."""

    feature_dim: int
    layout: SkeletonLayout

    @abc.abstractmethod
    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, C, T, V, M)`` → dense features ``(N, M, D, T', V)``."""

    def pool(self, features: Tensor) -> Tensor:
        """Global average over time and joints, then over persons: ``(N, M, D, T', V)`` → ``(N, D)``."""
        return features.mean(dim=(-2, -1)).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.forward_features(x))

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Dense map and pooled features from one pass: ``((N, M, D, T', V), (N, D))``.

        ``pooled`` equals ``forward(x)``; a decoder reads ``dense`` without running the encoder again.
        """
        dense = self.forward_features(x)
        return dense, self.pool(dense)

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 5:
            raise ValueError(f"expected (N, C, T, V, M) input, got shape {tuple(x.shape)}")
        if x.shape[3] != self.layout.num_joints:
            raise ValueError(
                f"input has {x.shape[3]} joints but layout {self.layout.name!r} has {self.layout.num_joints}"
            )


class DataNorm(nn.Module):
    """Input BatchNorm over joint×channel features, output ``(N·M, C, T, V)`` channels-last.

    With ``num_person=None`` the statistics are shared by all persons (ST-GCN,
    CrosSCLR/AimCLR: ``BatchNorm1d(V·C)``), which keeps the encoder invariant
    to the order of persons and lets M vary at run time. ``num_person=M`` gives
    2s-AGCN's per-person ``BatchNorm1d(M·V·C)``.

    The output is laid out as ``(N·M, T, V, C)`` in memory (channels-last), the
    layout every graph block below works in, so no later block copies it.
    """

    def __init__(self, in_channels: int, num_joints: int, num_person: int | None = None) -> None:
        super().__init__()
        self.num_person = num_person
        self.bn = nn.BatchNorm1d((num_person or 1) * num_joints * in_channels)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        if self.num_person is None:
            # (N, M, T, V, C): BatchNorm1d over V·C with N·M·T samples equals the
            # reference's BN over (N·M, V·C, T) but needs no transpose of T.
            y = x.permute(0, 4, 2, 3, 1).reshape(n * m * t, v * c)
            y = self.bn(y).view(n * m, t, v, c)
        else:
            if m != self.num_person:
                raise ValueError(f"DataNorm was built for M={self.num_person} persons, got M={m}")
            y = x.permute(0, 2, 4, 3, 1).reshape(n * t, m * v * c)
            y = self.bn(y).view(n, t, m, v, c).transpose(1, 2).reshape(n * m, t, v, c)
        return y.permute(0, 3, 1, 2)



def pointwise_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int] = (1, 1)) -> Tensor:
    """``F.conv2d(x, weight, bias, stride)`` for a ``(C_out, C_in, 1, 1)`` weight, as one GEMM over channels.

    Why not ``F.conv2d``: for a channels-last input (every graph encoder's
    activations, and what oneDNN picks for the CNN's) the convolution backward
    returns the weight gradient channels-last, strides ``(C_in, 1, C_in, C_in)``.
    Autograd keeps it (strides of size-1 dimensions do not count in its layout
    contract), but DDP's gradient buckets use the parameter's own strides
    ``(C_in, 1, 1, 1)``, so every rank warned "Grad strides do not match bucket
    view strides" and copied the gradient. The GEMM's weight gradient is
    contiguous, like the parameter. The result is stored channels-last.
    """
    st, sv = stride
    if st > 1 or sv > 1:
        x = x[:, :, ::st, ::sv]
    y = F.linear(x.permute(0, 2, 3, 1), weight.view(weight.shape[0], weight.shape[1]), bias)
    return y.permute(0, 3, 1, 2)


class PointwiseConv2d(nn.Conv2d):
    """A 1×1 ``nn.Conv2d`` (same parameters and state dict) computed by :func:`pointwise_conv2d`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int] = 1,
                 bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, stride, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return pointwise_conv2d(x, self.weight, self.bias, self.stride)


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode and restore every submodule's own flag afterwards.

    Restoring per submodule (not ``train(was_training)``) matters for the online
    KNN monitor: a method may keep some parts (momentum encoder) in eval mode
    while the rest trains.
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, flag in saved:
            m.training = flag
