r"""AimCLR's losses (Guo et al., AAAI 2022): D³M and nearest-neighbour mining.

Both work on MoCo logits ``[q·k, q·m_1, …, q·m_K] / τ`` of L2-normalised
embeddings (:func:`~skelssl.losses.infonce.info_nce_logits`): column 0 is the
augmented pair, the rest the memory queue.

Dual distributional divergence minimisation (D³M, §3.4)
-------------------------------------------------------
The normally augmented query's distribution over {key} ∪ queue,
``p = softmax(l_q)`` (no gradient), supervises the distributions of the
extremely augmented query ``l_e`` and of its EADM-dropped version ``l_ed``::

    L_D3M = ½ [ -Σ_j p_j log softmax(l_e)_j  -  Σ_j p_j log softmax(l_ed)_j ]

(:func:`ddm_loss` is one of the two cross-entropies, averaged over the batch.)

Nearest-neighbour mining (§3.5)
-------------------------------
After the warm-up, each of the three queries picks its ``topk`` most similar
queue entries; the union of the picks (up to ``3 topk`` slots) joins the
positive key as positives of the normal query's InfoNCE, which becomes the
mean of ``-log p_j`` over the positive set
(:func:`~skelssl.losses.infonce.multi_positive_nce` with ``"mean"``, the
released ``processor/pretrain_aimclr.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from skelssl.losses.infonce import mine_topk_positives

__all__ = ["ddm_loss", "nearest_neighbour_positives"]


def ddm_loss(target_logits: Tensor, logits: Tensor) -> Tensor:
    """``-mean_n Σ_j softmax(target_logits)_nj · log softmax(logits)_nj``; the target carries no gradient."""
    if target_logits.shape != logits.shape:
        raise ValueError(f"target {tuple(target_logits.shape)} and logits {tuple(logits.shape)} differ in shape")
    target = target_logits.detach().float().softmax(dim=1)
    return -(target * logits.float().log_softmax(dim=1)).sum(dim=1).mean()


@torch.no_grad()
def nearest_neighbour_positives(queue_similarities: Sequence[Tensor], topk: int = 1) -> Tensor:
    """Positive mask ``(N, 1 + K)`` over ``[key, queue]``: the key and every query's ``topk`` queue neighbours.

    ``queue_similarities`` are ``(N, K)`` similarities of each query (normal,
    extreme, dropped extreme) with the queue; the union of their top-k slots
    is marked, shifted by one for the key column, which is always positive.
    """
    if not queue_similarities:
        raise ValueError("give at least one query's similarities with the queue")
    mined = mine_topk_positives(queue_similarities[0], topk)
    for s in queue_similarities[1:]:
        mined |= mine_topk_positives(s, topk)
    key = torch.ones(mined.shape[0], 1, dtype=torch.bool, device=mined.device)
    return torch.cat([key, mined], dim=1)
