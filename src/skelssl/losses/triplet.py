r"""MCC's motion-consistency triplet loss (Su et al., ICCV 2021, §3.1, eq. 1 as the text describes it).

For embeddings of a basic clip ``b``, a positive ``p`` (the same motion at
another playback speed) and a negative ``n`` (the same frames in a shuffled
order), with Euclidean distances ``d``::

    L = max(0, γ + d(b, p) − d(b, n))          (margin γ = 0.15)

i.e. the positive must be closer to the basic clip than the negative by the
margin. The printed eq. (1), ``max(0, γ − (d(b, p) − d(b, n)))``, would push
the positive away instead (see ``docs/methods.md``). Without a positive
(``positive=None``, Table 2's "−" row) only ``max(0, γ − d(b, n))`` remains:
the negative is pushed beyond the margin.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from skelssl.losses.infonce import _reduce

__all__ = ["triplet_loss"]


def triplet_loss(anchor: Tensor, positive: Tensor | None, negative: Tensor, margin: float = 0.15,
                 reduction: Literal["mean", "sum", "none"] = "mean") -> Tensor:
    """``max(0, margin + ‖a − p‖ − ‖a − n‖)`` per row of ``(N, D)`` embeddings, then reduced."""
    d_neg = (anchor - negative).norm(dim=1)
    d_pos = (anchor - positive).norm(dim=1) if positive is not None else 0.0
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)
