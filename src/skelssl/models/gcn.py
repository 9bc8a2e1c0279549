"""Parts shared by the graph backbones (ST-GCN, 2s-AGCN, AS-GCN) and the GCN decoder.

Everything runs channels-last: activations are logically ``(B, C, T, V)`` but
stored as ``(B, T, V, C)``, the layout in which oneDNN's temporal convolution
is fastest and in which the graph convolution is two matmuls, no einsum:

* aggregate first, ``Z[b,t,(w,k),:] = Σ_v A_k[v,w] X[b,t,v,:]``: one
  ``torch.matmul`` of the stacked ``(W·K, V)`` adjacency with the activations
  (PyTorch runs it as a single large GEMM over all ``B·T·C`` rows);
* then ``Z`` viewed as ``(B·T·W, K·C_in)`` times the ``(K·C_in, C_out)``
  weight gives ``(B, T, W, C_out)`` — already the channels-last input of the
  temporal convolution, so nothing is permuted back.

Aggregating before the 1×1 weight is the same linear map as the reference's
conv-then-einsum, with fewer FLOPs whenever ``C_in < C_out``; the per-subset
bias becomes ``Σ_k colsum(A_k)[w] b_k``. Layers with very few input channels
(the first block: x, y, z) instead use one GEMM with the dense
``(V·C_in, W·C_out)`` operator. In eval mode the BatchNorms after the graph
conv and after the temporal conv are folded into the weights. The measured
effect of each choice is in ``benchmarks/README.md``.
"""

from __future__ import annotations

import abc
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from skelssl.data.layouts import SkeletonLayout, get_layout
from skelssl.models.base import DataNorm, SkeletonEncoder, pointwise_conv2d

__all__ = [
    "BASE_CHANNELS",
    "BASE_STRIDES",
    "channel_plan",
    "graph_linear",
    "GraphLinear",
    "TemporalConv",
    "STBlock",
    "GraphEncoder",
    "set_fast_paths",
    "present_bodies",
    "Dropout",
]

# ST-GCN / 2s-AGCN / AS-GCN: ten blocks, time halved at blocks 5 and 8.
BASE_CHANNELS: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
BASE_STRIDES: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


def channel_plan(width: float = 1.0, feature_dim: int | None = None) -> tuple[int, ...]:
    """Block widths × ``width``; ``feature_dim`` overrides the last block.

    CrosSCLR/AimCLR's quarter model is ``width=0.25, feature_dim=256``:
    16,16,16,16,32,32,32,64,64,256.
    """
    plan = [max(1, int(round(c * width))) for c in BASE_CHANNELS]
    if feature_dim is not None:
        plan[-1] = feature_dim
    return tuple(plan)


def bn_affine(bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Eval-mode BatchNorm as ``y = x * scale + shift``."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose keep mask on CPU is ``rand_like(x) >= p`` (same distribution and scaling).

    Why: CPU ``nn.Dropout`` draws its mask with ``bernoulli_``, 2.6× slower
    than uniform sampling (21 ms vs 8 ms forward per ST-GCN-¼ block at batch
    64, one thread); with dropout 0.5 in nine blocks of both MoCo encoders
    that was 15 % of a SkeletonCLR step. The mask kept for backward is a
    bool tensor, as ``nn.Dropout``'s, and ``rand_like`` keeps the input's
    channels-last layout. Other devices use ``nn.Dropout``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0 or self.inplace or x.device.type != "cpu":
            return super().forward(x)
        if self.p == 1:
            return x * 0
        return x.mul(torch.rand_like(x) >= self.p).mul_(1 / (1 - self.p))


def can_fold(bn: nn.BatchNorm2d) -> bool:
    return not bn.training and bn.track_running_stats and bn.running_mean is not None


def graph_linear(
    x: Tensor,
    adj: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    allow_dense: bool = True,
) -> Tensor:
    """``Σ_k (X A_k) W_k + b_k`` — the ST-GCN spatial graph convolution.

    Args:
        x: ``(B, C_in, T, V)``, preferably channels-last.
        adj: ``(K, V, W)`` shared or ``(B, K, V, W)`` per-sample adjacency.
        weight: ``(K·C_out, C_in)``, row blocks per subset (the reference's 1×1
            conv weight, squeezed).
        bias: ``(K·C_out,)`` or None.
        scale, shift: optional per-output-channel affine applied last (folded BN).
        allow_dense: let few-channel inputs use one dense ``(V·C_in, W·C_out)`` GEMM.

    Returns ``(B, C_out, T, W)`` stored channels-last.
    """
    b, c_in, t, v = x.shape
    k, w = adj.shape[-3], adj.shape[-1]
    c_out = weight.shape[0] // k
    per_sample = adj.dim() == 4
    wk = weight.view(k, c_out, c_in).transpose(1, 2)  # (K, C_in, C_out)
    if scale is not None:
        wk = wk * scale
    eff_bias = None
    if bias is not None:
        colsum = adj.sum(dim=-2)  # (…, K, W)
        eff_bias = torch.matmul(colsum.transpose(-1, -2), bias.view(k, c_out))  # (…, W, C_out)
        if scale is not None:
            eff_bias = eff_bias * scale
    if shift is not None:
        eff_bias = shift if eff_bias is None else eff_bias + shift
    xt = x.permute(0, 2, 3, 1)  # (B, T, V, C_in): free for channels-last input
    if allow_dense and not per_sample and _dense_is_cheaper(v, w, k, c_in, c_out):
        # Few input channels (the first block): one GEMM with the dense
        # (V·C_in, W·C_out) operator beats a batch of tiny aggregations.
        out = torch.matmul(xt.reshape(b * t, v * c_in), _dense_operator(adj, wk)).view(b, t, w, c_out)
    else:
        # rows[(w, k), v] = adj[k, v, w]
        rows = adj.permute(0, 3, 1, 2) if per_sample else adj.permute(2, 0, 1)
        rows = rows.reshape(*rows.shape[:-3], w * k, v)
        if per_sample:
            z = torch.matmul(rows.unsqueeze(1), xt)  # broadcast over time: (B, T, W·K, C_in), contiguous
        else:
            # A batched GEMM over the B·T frames with the shared operator (stride-0 batch), not
            # torch.matmul(rows, xt): that transposes xt into one large GEMM and copies it back,
            # 3.5× slower forward on ST-GCN-¼ shapes (measured in docs/performance.md).
            z = torch.bmm(rows.expand(b * t, w * k, v), xt.reshape(b * t, v, c_in)).view(b, t, w * k, c_in)
        out = torch.matmul(z.view(b, t, w, k * c_in), wk.reshape(k * c_in, c_out))
    if eff_bias is not None:
        out = out.add_(eff_bias.unsqueeze(1) if per_sample else eff_bias)
    return out.permute(0, 3, 1, 2)


def _dense_is_cheaper(v: int, w: int, k: int, c_in: int, c_out: int) -> bool:
    # FLOPs per frame: dense operator vs aggregation + K-block GEMM. The dense
    # GEMM runs at near-peak while the aggregation is a batch of tiny matmuls,
    # so it wins even at somewhat more FLOPs (measured: first ST-GCN block, C_in=3).
    dense = v * c_in * w * c_out
    factored = w * k * v * c_in + w * k * c_in * c_out
    return dense <= 1.5 * factored


def _dense_operator(adj: Tensor, wk: Tensor) -> Tensor:
    """``D[(v, c_in), (w, c_out)] = Σ_k adj[k, v, w] · W_k[c_in, c_out]``."""
    k, v, w = adj.shape
    c_in, c_out = wk.shape[1:]
    d = torch.matmul(adj.reshape(k, v * w).T, wk.reshape(k, c_in * c_out))
    return d.view(v, w, c_in, c_out).permute(0, 2, 1, 3).reshape(v * c_in, w * c_out)


class GraphLinear(nn.Module):
    """Parameters of a K-subset graph convolution (same count as the reference 1×1 conv).

    ``fold_bn`` and ``allow_dense`` switch the fast paths off for A/B measurements.

    ``recompute_aggregation``: when training, keep only the block input for
    backward and recompute the aggregation ``Z`` (``K`` times the input's
    size, the largest tensor a block would keep: ~40 % of ST-GCN-¼'s
    activation memory) in the backward pass, at the cost of running the graph
    convolution's two matmuls once more. Measured in ``docs/performance.md``.
    """

    fold_bn: bool = True
    allow_dense: bool = True
    recompute_aggregation: bool = True

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.num_subsets = in_channels, out_channels, num_subsets
        self.weight = nn.Parameter(torch.empty(num_subsets * out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(num_subsets * out_channels)) if bias else None
        # nn.Conv2d's default initialisation, so training matches the reference.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(in_channels)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor, adj: Tensor, bn: nn.BatchNorm2d | None = None) -> Tensor:
        """Graph conv, then ``bn`` if given (folded into the GEMM in eval mode)."""
        if bn is not None and self.fold_bn and can_fold(bn):
            scale, shift = bn_affine(bn)
            return graph_linear(x, adj, self.weight, self.bias, scale, shift, self.allow_dense)
        if self.recompute_aggregation and torch.is_grad_enabled() and not self._dense_path(x, adj):
            if type(bn) is nn.BatchNorm2d and bn.training:
                return self._recomputed_with_batch_norm(x, adj, bn)
            y = checkpoint(graph_linear, x, adj, self.weight, self.bias, None, None, self.allow_dense,
                           use_reentrant=False)
        else:
            y = graph_linear(x, adj, self.weight, self.bias, allow_dense=self.allow_dense)
        return bn(y) if bn is not None else y

    def _recomputed_with_batch_norm(self, x: Tensor, adj: Tensor, bn: nn.BatchNorm2d) -> Tensor:
        """Graph conv + training-mode ``bn`` recomputed in backward: neither ``Z`` nor the BN input is kept.

        The BN's running statistics are updated once, in the forward pass (as ``bn(y)`` would);
        the backward pass's recomputation normalises with the same batch statistics and updates
        throw-away copies, so both passes save the same tensors.
        """
        factor = 0.0 if bn.momentum is None else bn.momentum
        if bn.track_running_stats and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            if bn.momentum is None:  # cumulative moving average, as nn.BatchNorm
                factor = 1.0 / float(bn.num_batches_tracked)
        running = [(bn.running_mean, bn.running_var)]

        def conv_bn(x: Tensor, adj: Tensor) -> Tensor:
            y = graph_linear(x, adj, self.weight, self.bias, allow_dense=self.allow_dense)
            mean, var = running.pop() if running else (
                None if bn.running_mean is None else bn.running_mean.clone(),
                None if bn.running_var is None else bn.running_var.clone())
            return F.batch_norm(y, mean, var, bn.weight, bn.bias, True, factor, bn.eps)

        return checkpoint(conv_bn, x, adj, use_reentrant=False)

    def _dense_path(self, x: Tensor, adj: Tensor) -> bool:
        """Whether :func:`graph_linear` takes the dense-operator GEMM (no aggregation to recompute)."""
        return (self.allow_dense and adj.dim() == 3
                and _dense_is_cheaper(adj.shape[-2], adj.shape[-1], self.num_subsets, x.shape[1], self.out_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, subsets={self.num_subsets}"


class TemporalConv(nn.Module):
    """``(k, 1)`` convolution over time + BatchNorm; BN folded into the conv in eval mode.

    A ``k = 1`` convolution (the residual projection of a block that changes
    width or stride) runs as one GEMM (:func:`~skelssl.models.base.pointwise_conv2d`),
    whose weight gradient keeps the parameter's layout under DDP.
    """

    fold_bn: bool = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"temporal kernel must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(
            in_channels, out_channels, (kernel_size, 1), (stride, 1), ((kernel_size - 1) // 2, 0)
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        w, b = self.conv.weight, self.conv.bias
        folded = self.fold_bn and can_fold(self.bn)
        if folded:
            scale, shift = bn_affine(self.bn)
            w = w * scale.view(-1, 1, 1, 1)
            b = shift if b is None else b * scale + shift
        if w.shape[2] == 1:
            y = pointwise_conv2d(x, w, b, self.conv.stride)
        else:
            y = F.conv2d(x, w, b, self.conv.stride, self.conv.padding)
        return y if folded else self.bn(y)


def set_fast_paths(model: nn.Module, *, fold_bn: bool = True, dense: bool = True,
                   recompute_aggregation: bool = True) -> nn.Module:
    """Switch eval-mode BN folding, the dense first-block GEMM and the training-time recomputation of the
    graph aggregation on or off (for A/B runs)."""
    for m in model.modules():
        if isinstance(m, (GraphLinear, TemporalConv)):
            m.fold_bn = fold_bn
        if isinstance(m, GraphLinear):
            m.allow_dense = dense
            m.recompute_aggregation = recompute_aggregation
    return model


class STBlock(nn.Module):
    """Spatial module → temporal conv + BN → dropout → + residual → ReLU.

    ``spatial(x, ctx)`` must return the *activated* spatial features
    ``(B, C_out, T, V)``; it carries each family's graph (ST-GCN's fixed
    partitions, 2s-AGCN's adaptive graph, AS-GCN's actional+structural links).
    """

    def __init__(
        self,
        spatial: nn.Module,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 9,
        dropout: float = 0.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.spatial = spatial
        self.tcn = TemporalConv(out_channels, out_channels, kernel_size, stride)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        if not residual:
            self.residual: nn.Module | None = None
            self.identity = False
        elif in_channels == out_channels and stride == 1:
            self.residual, self.identity = None, True
        else:
            self.residual, self.identity = TemporalConv(in_channels, out_channels, 1, stride), False

    def forward(self, x: Tensor, ctx: object = None) -> Tensor:
        y = self.tcn(self.spatial(x, ctx))
        if self.dropout is not None:
            y = self.dropout(y)
        # In place: neither BN, conv nor dropout keeps its output for backward.
        if self.identity:
            y = y.add_(x)
        elif self.residual is not None:
            y = y.add_(self.residual(x))
        return torch.relu_(y)


def present_bodies(x: Tensor) -> Tensor:
    """``(N, C, T, V, M)`` → ``(N, M)`` bool: body slot m of sample n has a non-zero coordinate.

    A sample with no present body gets its first slot marked present, so every
    sample has at least one body to encode (its features are then the
    encoder's response to an all-zero skeleton: finite, no division by zero).
    """
    present = x.ne(0).any(dim=3).any(dim=2).any(dim=1)
    present[:, 0] |= ~present.any(dim=1)
    return present


class GraphEncoder(SkeletonEncoder):
    """Data BN → ten :class:`STBlock` s → dense ``(N, M, D, T', V)`` features.

    Subclasses provide ``make_spatial(in_c, out_c, index)`` and may override
    ``context(x)`` to compute per-sample inputs shared by all blocks (AS-GCN's
    inferred actional links).

    Person-sparse encoding (``person_sparse``, on by default unless the data
    BN is per person): NTU-style inputs carry M body slots and most samples
    fill one, the other slot all zeros. The backbone then runs only on the
    present bodies (see :func:`present_bodies`) and a sample's features are
    the average over its present bodies; the data BN's batch statistics are
    taken over present bodies only. ``person_sparse=False`` is the reference
    behaviour (every slot encoded, empty ones averaged in), bit for bit the
    previous output. In the dense map of :meth:`forward_features` an absent
    slot holds the mean of the sample's present bodies' maps, so averaging the
    map over M (``pool``, and any per-slot linear pooling a method applies)
    gives the average over present bodies.
    """

    def __init__(
        self,
        in_channels: int = 3,
        layout: str | SkeletonLayout = "ntu25",
        width: float = 1.0,
        feature_dim: int | None = None,
        channels: Sequence[int] | None = None,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
        num_person: int | None = None,
        person_sparse: bool | None = None,
    ) -> None:
        super().__init__()
        if person_sparse and num_person is not None:
            # A per-person data BN normalises each slot with its own statistics, so it needs every slot.
            raise ValueError("person_sparse=True needs the shared data BN (num_person=None)")
        self.person_sparse = num_person is None if person_sparse is None else bool(person_sparse)
        self.layout = get_layout(layout)
        self.in_channels = in_channels
        plan = tuple(channels) if channels is not None else channel_plan(width, feature_dim)
        if len(plan) != len(BASE_STRIDES):
            raise ValueError(f"channel plan needs {len(BASE_STRIDES)} entries, got {len(plan)}")
        self.channels = plan
        self.feature_dim = plan[-1]
        self.temporal_stride = math.prod(BASE_STRIDES)  # T' = ceil(T / 4): frames per dense-map step
        self.data_bn = DataNorm(in_channels, self.layout.num_joints, num_person)
        blocks = []
        c_in = in_channels
        for i, (c_out, stride) in enumerate(zip(plan, BASE_STRIDES)):
            blocks.append(
                STBlock(
                    self.make_spatial(c_in, c_out, i),
                    c_in,
                    c_out,
                    stride,
                    temporal_kernel,
                    # The reference gives the first block no dropout and no residual.
                    dropout=dropout if i > 0 else 0.0,
                    residual=i > 0,
                )
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)

    @abc.abstractmethod
    def make_spatial(self, in_channels: int, out_channels: int, index: int) -> nn.Module:
        """The spatial module of block ``index`` (see :class:`STBlock`)."""

    def context(self, x: Tensor) -> object:
        return None

    def backbone(self, x: Tensor) -> Tensor:
        """Every body slot: ``(N, C, T, V, M)`` → ``(N·M, D, T', V)``."""
        h = self.data_bn(x)
        ctx = self.context(h)
        for block in self.blocks:
            h = block(h, ctx)
        return h

    def _sparse_bodies(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor] | None:
        """Present bodies through the backbone ``(P, D, T', V)``, the ``(N, M)`` present mask, and the
        present slots' indices into ``N·M`` (``(P,)``, in the dense path's order).

        None when every slot is present (or person-sparse is off): the dense path is then the same work.
        """
        if not self.person_sparse or x.shape[-1] == 1:
            return None
        present = present_bodies(x)
        if bool(present.all()):
            return None
        n, c, t, v, m = x.shape
        slot = present.flatten().nonzero().squeeze(1)
        bodies = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v).index_select(0, slot)
        return self.backbone(bodies.unsqueeze(-1)), present, slot

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        n, m = x.shape[0], x.shape[-1]
        sparse = self._sparse_bodies(x)
        if sparse is None:
            h = self.backbone(x)
            return h.view(n, m, *h.shape[1:])
        h, present, slot = sparse
        p, d, t, v = h.shape
        rows = h.permute(0, 2, 3, 1).reshape(p, t * v * d)  # free for channels-last h; row copies are fast
        count = present.sum(dim=1)
        flat = present.flatten()
        if bool((count[~present.all(dim=1)] == 1).all()):
            # Every sample with an empty slot has one body (always so for M = 2): a copy of it fills the slot.
            body = flat.long().cumsum(0) - 1  # present slot -> its row of h
            only_body = body.view(n, m).gather(1, present.long().argmax(dim=1, keepdim=True))  # (N, 1)
            dense = rows.index_select(0, torch.where(flat, body, only_body.expand(n, m).flatten()))
        else:
            mean = rows.new_zeros(n, t * v * d).index_add_(0, slot // m, rows) / count.unsqueeze(1).to(rows.dtype)
            dense = mean.repeat_interleave(m, dim=0).index_copy(0, slot, rows)
        # Absent slots hold the sample's mean body map; present slots their own.
        return dense.view(n, m, t, v, d).permute(0, 1, 4, 2, 3)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        sparse = self._sparse_bodies(x)
        if sparse is None:
            return self.pool(self.forward_features(x))
        h, present, slot = sparse
        per_body = h.mean(dim=(-2, -1))
        pooled = per_body.new_zeros(x.shape[0], per_body.shape[1]).index_add_(0, slot // x.shape[-1], per_body)
        return pooled / present.sum(dim=1, keepdim=True).to(pooled.dtype)
