r"""InfoNCE with a memory of negatives (MoCo) and CrosSCLR's cross-view loss.

All functions take **L2-normalised** embeddings (they do not normalise again)
and compute in float32 with autocast off, so the ``1/τ``-scaled logits keep
their precision under mixed precision.

InfoNCE / MoCo (SkeletonCLR, Li et al. CVPR 2021 §3.1; He et al. 2020)
----------------------------------------------------------------------
For a query ``q``, its positive key ``k`` and a memory ``M = {m_1 … m_K}``::

    L = -log  exp(q·k/τ) / ( exp(q·k/τ) + Σ_i exp(q·m_i/τ) )

computed as cross-entropy with target 0 over the logits
``[q·k, q·m_1, …, q·m_K] / τ`` (:func:`info_nce_logits`, :func:`info_nce_loss`).

CrosSCLR cross-view loss (§3.2, eq. (6)–(8))
--------------------------------------------
Views ``u`` and ``v`` (e.g. joint and motion) each have a query ``z_u`` /
``z_v``, a key ``k_u`` and a memory ``M_u`` / ``M_v``. The memories are
**aligned**: slot ``i`` of every view's memory holds the same sample (all views
enqueue the same batch at the same pointer). Let ``S_u = z_u·M_u`` and
``S_v = z_v·M_v`` (``(K,)`` similarity vectors).

* Knowledge mining: view ``v`` picks its ``topk`` most similar memory slots,
  ``N_v = Topk(S_v)`` (K = 1 in the paper), and they become extra positives
  for view ``u`` (slot ``i`` of ``M_u`` is the same sample as slot ``i`` of
  ``M_v``).
* Embedding context: view ``u``'s similarities re-weighted by view ``v``'s,
  ``S_u ∘ S_v`` (element-wise), are appended as ``K`` more logits, and the
  mined slots are positives there too.

With ``context=True`` the logits and positive mask of view ``u`` (given ``v``) are::

    logits = [ z_u·k_u,  S_u,  S_u ∘ S_v ] / τ              (1 + 2K)
    P      = {0} ∪ {1 + i : i ∈ N_v} ∪ {1 + K + i : i ∈ N_v}

and with ``context=False`` (the paper's "w/o embedding context" ablation) only
``[z_u·k_u, S_u] / τ`` with ``P = {0} ∪ {1 + i : i ∈ N_v}``: the mined
positives without the re-weighted context.

The loss over the positive set, ``p_j = softmax(logits)_j`` — two reductions:

* ``positive_reduction="mean"`` (default, the authors' released code,
  ``net/crossclr*.py`` + ``processor/pretrain_crossclr*.py``)::

      L_{u←v} = -(1/|P|) Σ_{j∈P} log p_j

* ``positive_reduction="sum"`` (the multi-positive NCE with the positives
  summed inside the log)::

      L_{u←v} = -log Σ_{j∈P} p_j = -log ( Σ_{j∈P} e^{l_j} / Σ_j e^{l_j} )

Both are the plain InfoNCE when ``P = {0}``; they differ in how much weight a
mined positive gets when it disagrees with the pair. The default is what the
published numbers were trained with. As in that code, ``S_v`` is **not** detached inside
the context term, so ``L_{u←v}`` also sends gradient into view ``v``'s
query encoder; the mined indices carry no gradient. The released code has no
soft-target (distillation) form of the context; it is the extra logits above.

CrosSCLR's total in stage 2 is ``Σ_u mean_{v≠u} mean_batch L_{u←v}`` (eq. (8),
summed over views; with two views ``L_{j←m} + L_{m←j}``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "info_nce_logits",
    "info_nce_loss",
    "InfoNCELoss",
    "mine_topk_positives",
    "cross_view_logits",
    "multi_positive_nce",
    "cross_view_loss",
    "CrossViewLoss",
]

Reduction = Literal["mean", "sum", "none"]
PositiveReduction = Literal["mean", "sum"]


def _no_autocast(t: Tensor) -> torch.autocast:
    return torch.autocast(device_type=t.device.type, enabled=False)


def _reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check(q: Tensor, k: Tensor | None, queue: Tensor) -> None:
    if q.dim() != 2 or queue.dim() != 2 or q.shape[1] != queue.shape[1]:
        raise ValueError(f"expected q (N, D) and queue (K, D), got {tuple(q.shape)} and {tuple(queue.shape)}")
    if k is not None and k.shape != q.shape:
        raise ValueError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")


def info_nce_logits(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """``[q·k, q·queue_1, …, q·queue_K] / τ`` as an ``(N, 1 + K)`` float32 tensor (positive in column 0)."""
    _check(q, k, queue)
    with _no_autocast(q):
        q, k, queue = q.float(), k.float(), queue.float()
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ queue.t()
        return torch.cat([l_pos, l_neg], dim=1) / temperature


def info_nce_loss(
    q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.07, reduction: Reduction = "mean"
) -> Tensor:
    """MoCo/SkeletonCLR InfoNCE: cross-entropy of :func:`info_nce_logits` with target 0."""
    logits = info_nce_logits(q, k, queue, temperature)
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target, reduction=reduction)


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce_loss`: ``loss(q, k, queue)``."""

    def __init__(self, temperature: float = 0.07, reduction: Reduction = "mean") -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.reduction = reduction

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        return info_nce_loss(q, k, queue, self.temperature, self.reduction)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


@torch.no_grad()
def mine_topk_positives(similarity: Tensor, topk: int = 1) -> Tensor:
    """Boolean ``(N, K)`` mask of each row's ``topk`` largest similarities (CrosSCLR's ``Γ = Topk``)."""
    if not 1 <= topk <= similarity.shape[1]:
        raise ValueError(f"topk must be in 1..{similarity.shape[1]} (the memory size), got {topk}")
    idx = similarity.topk(topk, dim=1).indices
    mask = torch.zeros(similarity.shape, dtype=torch.bool, device=similarity.device)
    return mask.scatter_(1, idx, True)


def cross_view_logits(
    q_u: Tensor,
    k_u: Tensor,
    queue_u: Tensor,
    q_v: Tensor,
    queue_v: Tensor,
    temperature: float = 0.07,
    topk: int = 1,
    context: bool = True,
) -> tuple[Tensor, Tensor]:
    """Logits and boolean positive mask of view ``u`` guided by view ``v`` (module docstring, eq. (6)–(7)).

    Returns ``(logits, positives)``, both ``(N, 1 + 2K)`` with ``context`` and
    ``(N, 1 + K)`` without; column 0 is the augmented-pair positive.
    """
    _check(q_u, k_u, queue_u)
    _check(q_v, None, queue_v)
    if queue_u.shape[0] != queue_v.shape[0] or q_u.shape[0] != q_v.shape[0]:
        raise ValueError("views u and v need the same batch size and aligned memories of the same size")
    with _no_autocast(q_u):
        q_u, k_u, queue_u = q_u.float(), k_u.float(), queue_u.float()
        q_v, queue_v = q_v.float(), queue_v.float()
        l_pos = (q_u * k_u).sum(dim=1, keepdim=True)
        s_u = q_u @ queue_u.t()
        s_v = q_v @ queue_v.t()
        mined = mine_topk_positives(s_v, topk)
        first = torch.ones_like(l_pos, dtype=torch.bool)
        if context:
            logits = torch.cat([l_pos, s_u, s_u * s_v], dim=1) / temperature
            positives = torch.cat([first, mined, mined], dim=1)
        else:
            logits = torch.cat([l_pos, s_u], dim=1) / temperature
            positives = torch.cat([first, mined], dim=1)
    return logits, positives


def multi_positive_nce(
    logits: Tensor,
    positives: Tensor,
    positive_reduction: PositiveReduction = "mean",
    reduction: Reduction = "mean",
) -> Tensor:
    """NCE with several positives per row (module docstring): mean of ``-log p_j`` or ``-log Σ p_j`` over ``P``."""
    if logits.shape != positives.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and positives {tuple(positives.shape)} differ in shape")
    # Every row needs a positive (cross_view_logits always has column 0);
    # not checked here because that would cost a host sync per step.
    positives = positives.to(torch.bool)
    logits = logits.float()
    log_p = logits.log_softmax(dim=1)
    if positive_reduction == "mean":
        w = positives.to(log_p.dtype)
        loss = -(log_p * w).sum(dim=1) / w.sum(dim=1)
    elif positive_reduction == "sum":
        loss = -log_p.masked_fill(~positives, float("-inf")).logsumexp(dim=1)
    else:
        raise ValueError(f"positive_reduction must be 'mean' or 'sum', got {positive_reduction!r}")
    return _reduce(loss, reduction)


def cross_view_loss(
    q_u: Tensor,
    k_u: Tensor,
    queue_u: Tensor,
    q_v: Tensor,
    queue_v: Tensor,
    temperature: float = 0.07,
    topk: int = 1,
    context: bool = True,
    positive_reduction: PositiveReduction = "mean",
    reduction: Reduction = "mean",
) -> Tensor:
    """CrosSCLR's ``L_{u←v}``: view ``u``'s NCE with positives mined by view ``v`` (eq. (6)–(7))."""
    logits, positives = cross_view_logits(q_u, k_u, queue_u, q_v, queue_v, temperature, topk, context)
    return multi_positive_nce(logits, positives, positive_reduction, reduction)


class CrossViewLoss(nn.Module):
    """Module form of :func:`cross_view_loss`: ``loss(q_u, k_u, queue_u, q_v, queue_v)``."""

    def __init__(
        self,
        temperature: float = 0.07,
        topk: int = 1,
        context: bool = True,
        positive_reduction: PositiveReduction = "mean",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        if positive_reduction not in ("mean", "sum"):
            raise ValueError(f"positive_reduction must be 'mean' or 'sum', got {positive_reduction!r}")
        self.temperature = float(temperature)
        self.topk = int(topk)
        self.context = bool(context)
        self.positive_reduction = positive_reduction
        self.reduction = reduction

    def forward(self, q_u: Tensor, k_u: Tensor, queue_u: Tensor, q_v: Tensor, queue_v: Tensor) -> Tensor:
        return cross_view_loss(
            q_u, k_u, queue_u, q_v, queue_v,
            self.temperature, self.topk, self.context, self.positive_reduction, self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, topk={self.topk}, context={self.context}, "
            f"positive_reduction={self.positive_reduction!r}"
        )
