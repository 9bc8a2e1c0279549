r"""NT-Xent (SimCLR; Gao et al.'s view/distance contrastive learning, eq. 4–5).

For a batch of ``N`` sequences, each seen in two views, the ``2N`` embeddings
``z`` are L2-normalised and compared by cosine similarity. With ``(i, j)`` a
positive pair (two views of one sequence)::

    ℓ(i, j) = -log  exp(sim(z_i, z_j)/τ) / Σ_{k ≠ i} exp(sim(z_i, z_k)/τ)      (4)

    L = 1/(2N) Σ_{k=1..N} [ ℓ(2k-1, 2k) + ℓ(2k, 2k-1) ]                          (5)

so every other of the ``2(N − 1)`` samples is a negative and both directions
of a pair count. Here the views come as two blocks, ``z_a`` (first views) and
``z_b`` (second views), which is eq. (5) with the samples reordered.

Under DDP each rank passes its own rows as queries and every rank's rows
(gathered *with* gradient, :func:`skelssl.engine.distributed.all_gather_with_grad`)
as keys, with ``offset`` = where its rows start in the gathered batch; the mean
of the ranks' losses is then the single-process loss over the global batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["nt_xent_logits", "nt_xent_loss"]


def nt_xent_logits(z_a: Tensor, z_b: Tensor, temperature: float, keys_a: Tensor | None = None,
                   keys_b: Tensor | None = None, offset: int = 0) -> tuple[Tensor, Tensor]:
    """``(logits, targets)``: ``(2n, 2N)`` similarities / τ with each query's own column at ``-inf``, and the
    positive's column per query. Rows: ``z_a`` then ``z_b``; columns: ``keys_a`` then ``keys_b``.

    ``z_a``, ``z_b``: ``(n, D)`` L2-normalised; ``keys_a``, ``keys_b``: ``(N, D)``
    (default ``z_a``, ``z_b``), rows ``offset … offset + n − 1`` being ``z_a``, ``z_b``.
    """
    keys_a = z_a if keys_a is None else keys_a
    keys_b = z_b if keys_b is None else keys_b
    n, big_n = z_a.shape[0], keys_a.shape[0]
    if z_b.shape != z_a.shape or keys_b.shape != keys_a.shape or not 0 <= offset <= big_n - n:
        raise ValueError(f"NT-Xent: views {tuple(z_a.shape)}/{tuple(z_b.shape)}, keys {tuple(keys_a.shape)}/"
                         f"{tuple(keys_b.shape)} and offset {offset} do not fit together")
    with torch.autocast(device_type=z_a.device.type, enabled=False):
        queries = torch.cat([z_a, z_b]).float()
        logits = queries @ torch.cat([keys_a, keys_b]).float().t() / temperature
    own = torch.arange(n, device=z_a.device) + offset
    self_cols = torch.cat([own, own + big_n])
    positive = torch.cat([own + big_n, own])
    rows = torch.arange(2 * n, device=z_a.device)
    logits = logits.index_put((rows, self_cols), torch.tensor(float("-inf"), device=logits.device))
    return logits, positive


def nt_xent_loss(z_a: Tensor, z_b: Tensor, temperature: float = 0.5, keys_a: Tensor | None = None,
                 keys_b: Tensor | None = None, offset: int = 0,
                 reduction: Literal["mean", "sum", "none"] = "mean") -> Tensor:
    """Eq. (5) over the queries ``z_a``, ``z_b`` (see :func:`nt_xent_logits` for the arguments)."""
    logits, positive = nt_xent_logits(z_a, z_b, temperature, keys_a, keys_b, offset)
    return F.cross_entropy(logits, positive, reduction=reduction)
