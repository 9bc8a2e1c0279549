r"""ActCLR's similarity-mining loss (Lin, Zhang, Liu, CVPR 2023, eq. 9).

For an online embedding ``z_q``, its offline embedding ``z_k`` and a memory
bank ``M = {m_1 … m_K}`` of earlier offline embeddings (all L2-normalised)::

    p_q = softmax(sim(z_q, M) / τ_q)          τ_q = 0.1
    p_k = softmax(sim(z_k, M) / τ_k)          τ_k = 0.04 (sharper: the target)
    L   = -Σ_j p_k^j log p_q^j                 averaged over the batch

``p_k`` carries no gradient (the offline stream is a momentum copy). Where
``p_k^j > p_q^j`` the gradient raises ``sim(z_q, m_j)``: those bank entries act
as positives, the others as negatives. The released code minimises the KL
divergence instead, which differs by the entropy of ``p_k`` (no gradient) —
the same updates. It also does two things the paper does not describe (see
``docs/methods.md``), both available here as options, off by default:

* ``query_power=2``: the online similarities are squared before the softmax
  (``(z_q · m_j)²``), so the online distribution ignores the sign of a
  similarity;
* ``bank_topk=k`` with ``target_ceiling=0.95``: offline similarities above the
  ceiling are set to −1 (near-copies of ``z_k``, e.g. its own earlier key, are
  dropped as targets), then only the ``k`` bank entries most similar to ``z_k``
  enter both softmaxes (the release keeps 8192 of 32768).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["similarity_mining_loss"]


def similarity_mining_loss(z_q: Tensor, z_k: Tensor, bank: Tensor, tau_q: float = 0.1, tau_k: float = 0.04,
                           reduction: str = "mean", *, query_power: int = 1, bank_topk: int | None = None,
                           target_ceiling: float | None = None) -> Tensor:
    """Eq. 9 for normalised ``z_q, z_k`` ``(N, D)`` and a bank ``(K, D)``; ``reduction`` ``"mean"`` or ``"none"``.

    ``query_power``, ``bank_topk`` and ``target_ceiling`` are the release's departures (module docstring).
    """
    if z_q.shape != z_k.shape or z_q.dim() != 2 or bank.dim() != 2 or bank.shape[1] != z_q.shape[1]:
        raise ValueError(f"expected z_q, z_k (N, D) and bank (K, D), got {tuple(z_q.shape)}, "
                         f"{tuple(z_k.shape)}, {tuple(bank.shape)}")
    if tau_q <= 0 or tau_k <= 0:
        raise ValueError(f"temperatures must be positive, got tau_q={tau_q}, tau_k={tau_k}")
    if query_power not in (1, 2):
        raise ValueError(f"query_power must be 1 (the paper) or 2 (the release), got {query_power}")
    if bank_topk is not None and not 1 <= bank_topk <= bank.shape[0]:
        raise ValueError(f"bank_topk must be in 1..{bank.shape[0]} (the bank size) or None, got {bank_topk}")
    with torch.autocast(device_type=z_q.device.type, enabled=False):
        bank = bank.detach().float()
        sim_k = z_k.detach().float() @ bank.t()
        sim_q = (z_q.float() @ bank.t()) ** query_power
        if target_ceiling is not None:
            sim_k = sim_k.masked_fill(sim_k > target_ceiling, -1.0)
        if bank_topk is not None and bank_topk < bank.shape[0]:
            sim_k, idx = sim_k.topk(bank_topk, dim=1)
            sim_q = sim_q.gather(1, idx)
        target = (sim_k / tau_k).softmax(dim=1)
        log_p = (sim_q / tau_q).log_softmax(dim=1)
        loss = -(target * log_p).sum(dim=1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
