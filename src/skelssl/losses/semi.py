"""Loss terms of ASSL (Si et al., ECCV 2020, §3.2–3.4) and of the semi-supervised baselines.

Notation follows the paper: ``h̄`` is a translated feature (the space where
neighbours are found), ``h̄ᵏ`` its K nearest unlabeled neighbours, ``α`` the
neighbour weights and ``c = Σₖ αₖ h̄ᵏ`` the local centre. Every function works
on a whole batch at once; none loops over samples or neighbours.

Choices where the paper leaves room (tested in ``tests/test_semi_losses.py``):

* **KL direction (eq. 3).** The centre's prediction is the target:
  ``KL(p(c) ‖ p(h̄))`` for the anchor and for each positive neighbour, summed
  per anchor and averaged over anchors. Gradients reach both sides, so the
  aggregation MLP learns from this term as well as from ``L_CE^c``.
* **Adversarial alignment (eq. 6)** uses a gradient-reversal layer: one
  optimiser step lowers the discriminator's binary cross-entropy (labeled = 1,
  unlabeled = 0) in its own weights and *raises* it in the encoder's.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "nearest_neighbours",
    "neighbour_weights",
    "local_centre",
    "positive_neighbours",
    "neighbour_kl",
    "centre_cross_entropy",
    "grad_reverse",
    "adversarial_loss",
    "kl_from_logits",
    "entropy_from_logits",
    "vat_loss",
]


def nearest_neighbours(queries: Tensor, bank: Tensor, candidates: Tensor, k: int,
                       exclude: Tensor | None = None) -> Tensor:
    """Indices ``(N, k)`` into ``bank`` of each query's ``k`` nearest candidates (Euclidean), nearest first.

    ``candidates`` ``(S,)`` bool marks the bank rows that may be chosen;
    ``exclude`` ``(N,)`` (optional) is one bank row per query that must not be
    chosen (the query itself, when it also lives in the bank).
    """
    available = int(candidates.sum())
    if available < k + (exclude is not None):
        raise ValueError(f"need at least {k} neighbour candidates, the bank has {available}")
    dist = torch.cdist(queries, bank)
    dist = dist.masked_fill(~candidates[None, :], float("inf"))
    if exclude is not None:
        dist = dist.scatter(1, exclude[:, None], float("inf"))
    return dist.topk(k, dim=1, largest=False).indices


def neighbour_weights(scorer: nn.Module, anchors: Tensor, neighbours: Tensor) -> Tensor:
    """``α`` ``(N, K)``: softmax over k of ``scorer(|h̄ − h̄ᵏ|)`` (the message-aggregation MLP, one score each)."""
    scores = scorer((anchors[:, None, :] - neighbours).abs()).squeeze(-1)
    return scores.softmax(dim=1)


def local_centre(alpha: Tensor, neighbours: Tensor) -> Tensor:
    """``c = Σₖ αₖ h̄ᵏ``: ``(N, K)`` weights and ``(N, K, D)`` neighbours → ``(N, D)``."""
    return torch.einsum("nk,nkd->nd", alpha, neighbours)


def positive_neighbours(anchor_proxy: Tensor, neighbour_proxy: Tensor) -> Tensor:
    """``(N, K)`` bool: neighbour k is positive when its nearest labeled sample's label equals the anchor's."""
    return neighbour_proxy == anchor_proxy[:, None]


def kl_from_logits(target_logits: Tensor, logits: Tensor) -> Tensor:
    """``KL(softmax(target) ‖ softmax(logits))`` per row, over the last dimension."""
    log_p = F.log_softmax(target_logits, dim=-1)
    return (log_p.exp() * (log_p - F.log_softmax(logits, dim=-1))).sum(dim=-1)


def neighbour_kl(centre_logits: Tensor, anchor_logits: Tensor, neighbour_logits: Tensor,
                 positive: Tensor) -> Tensor:
    """Eq. (3): ``mean_u [KL(p(c_u) ‖ p(h̄_u)) + Σ_{k positive} KL(p(c_u) ‖ p(h̄_uᵏ))]``.

    ``centre_logits`` / ``anchor_logits`` ``(N, C)``, ``neighbour_logits``
    ``(N, K, C)``, ``positive`` ``(N, K)`` bool.
    """
    to_anchor = kl_from_logits(centre_logits, anchor_logits)
    to_neighbours = kl_from_logits(centre_logits[:, None, :].expand_as(neighbour_logits), neighbour_logits)
    return (to_anchor + (to_neighbours * positive).sum(dim=1)).mean()


def centre_cross_entropy(centre_logits: Tensor, labels: Tensor) -> Tensor:
    """Eq. (4): cross-entropy of the classifier on a labeled anchor's unlabeled-neighbour centre."""
    return F.cross_entropy(centre_logits, labels)


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return -ctx.scale * grad, None


def grad_reverse(x: Tensor, scale: float = 1.0) -> Tensor:
    """Identity forward; multiplies the gradient by ``-scale`` on the way back."""
    return _GradReverse.apply(x, scale)


def adversarial_loss(discriminator: nn.Module, labeled: Tensor, unlabeled: Tensor, *,
                     move_labeled: bool = True) -> Tensor:
    """Eq. (6) through gradient reversal: BCE(D(h̄_l), 1) + BCE(D(h̄_u), 0).

    Minimising it trains ``discriminator`` to tell the two apart while the
    reversed gradient trains whatever produced ``labeled`` / ``unlabeled`` to
    make them indistinguishable. ``move_labeled=False`` is the one-sided
    version: the labeled features still train the discriminator but receive no
    gradient, so only the unlabeled distribution is moved towards the labeled
    one (the direction §3.4 describes), and the supervised loss alone places
    the labeled features.
    """
    labeled = grad_reverse(labeled) if move_labeled else labeled.detach()
    logit_l = discriminator(labeled)
    logit_u = discriminator(grad_reverse(unlabeled))
    return (F.binary_cross_entropy_with_logits(logit_l, torch.ones_like(logit_l))
            + F.binary_cross_entropy_with_logits(logit_u, torch.zeros_like(logit_u)))


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Mean conditional entropy ``-Σ p log p`` (EntMin, Grandvalet & Bengio 2005)."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1).mean()


def _unit(d: Tensor) -> Tensor:
    return d / d.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (d.dim() - 1)))


def vat_loss(model: Callable[[Tensor], Tensor], x: Tensor, logits: Tensor, *, eps: float, xi: float = 1e-6,
             iterations: int = 1, generator: torch.Generator | None = None) -> Tensor:
    """Virtual adversarial training (Miyato et al., 2018): ``KL(p(x) ‖ p(x + r_adv))``, ``‖r_adv‖ = eps`` per sample.

    ``r_adv`` is found by ``iterations`` steps of power iteration from a random
    direction, each a finite difference of size ``xi``; ``logits`` are the
    model's clean predictions on ``x`` (treated as constants).
    """
    target = logits.detach()
    d = _unit(torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype))
    for _ in range(iterations):
        d.requires_grad_(True)
        divergence = kl_from_logits(target, model(x + xi * d)).mean()
        d = _unit(torch.autograd.grad(divergence, d)[0].detach())
    return kl_from_logits(target, model(x + eps * d)).mean()
