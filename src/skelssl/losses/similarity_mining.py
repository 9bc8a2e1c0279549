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
the same updates; it also squares the online similarities and keeps only the
top 8192 bank entries, which the paper does not describe (see ``docs/methods.md``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["similarity_mining_loss"]


def similarity_mining_loss(z_q: Tensor, z_k: Tensor, bank: Tensor, tau_q: float = 0.1, tau_k: float = 0.04,
                           reduction: str = "mean") -> Tensor:
    """Eq. 9 for normalised ``z_q, z_k`` ``(N, D)`` and a bank ``(K, D)``; ``reduction`` ``"mean"`` or ``"none"``."""
    if z_q.shape != z_k.shape or z_q.dim() != 2 or bank.dim() != 2 or bank.shape[1] != z_q.shape[1]:
        raise ValueError(f"expected z_q, z_k (N, D) and bank (K, D), got {tuple(z_q.shape)}, "
                         f"{tuple(z_k.shape)}, {tuple(bank.shape)}")
    if tau_q <= 0 or tau_k <= 0:
        raise ValueError(f"temperatures must be positive, got tau_q={tau_q}, tau_k={tau_k}")
    with torch.autocast(device_type=z_q.device.type, enabled=False):
        bank = bank.detach().float()
        target = ((z_k.detach().float() @ bank.t()) / tau_k).softmax(dim=1)
        log_p = ((z_q.float() @ bank.t()) / tau_q).log_softmax(dim=1)
        loss = -(target * log_p).sum(dim=1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
