"""The momentum base: EMA copies with a momentum schedule, the key forward with shuffle-BN, MoCo branches.

:class:`MomentumMethod` adds to :class:`~skelssl.methods.contrastive.ContrastiveMethod`

* :meth:`~MomentumMethod.momentum_copy`: a frozen copy of a network that
  :meth:`~MomentumMethod.after_optimizer_step` moves towards the original by
  EMA, ``θ_k ← m·θ_k + (1 − m)·θ_q`` (parameters only; BatchNorm statistics
  stay the copy's own, as in MoCo);
* the momentum ``m``: constant (``momentum``, MoCo/SkeletonCLR) or, with
  ``final_momentum``, BYOL's cosine schedule from ``momentum`` at the first
  step to ``final_momentum`` at the last, ``m_k = m_T − (m_T − m_0)(cos(πk/K) + 1)/2``
  (``K`` comes from the engine's :meth:`~MomentumMethod.on_train_start`; the step
  count is a buffer, so a resumed run continues the schedule);
* :func:`key_forward`: a momentum network's forward without gradient and with
  MoCo's shuffle-BN across ranks (the key encoder's BatchNorm then cannot
  tell which key belongs to which query).

:class:`MoCoBranch` is one view's query encoder, its key copy and its queue
of keys (``query`` / ``key`` / ``queue``) and embeds an augmented pair;
SkeletonCLR is one branch, CrosSCLR holds a :class:`ViewBranch` per view.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout
from skelssl.data.views import to_view
from skelssl.memory._distributed import batch_shuffle, batch_unshuffle
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.components import momentum_update
from skelssl.methods.contrastive import ContrastiveMethod

__all__ = ["MomentumMethod", "MoCoBranch", "ViewBranch", "key_forward", "cosine_momentum"]


def cosine_momentum(base: float, final: float, step: int, total_steps: int) -> float:
    """BYOL's schedule: ``base`` at step 0, ``final`` at ``total_steps``, cosine in between."""
    progress = min(1.0, step / max(1, total_steps))
    return final - (final - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def key_forward(key: nn.Module, x: Tensor, shuffle_bn: bool = True) -> Tensor:
    """``key(x)`` without gradient; with ``shuffle_bn`` on a batch shuffled across ranks and put back."""
    if not shuffle_bn:
        return key(x)
    x, idx_unshuffle = batch_shuffle(x)
    return batch_unshuffle(key(x), idx_unshuffle)


class MomentumMethod(ContrastiveMethod):
    """Base class for methods with momentum (EMA) copies of their networks.

    Args:
        momentum: EMA coefficient (the first step's, with a schedule).
        final_momentum: ``None`` for a constant ``momentum``; else the cosine
            schedule's value at the last step (BYOL: 1.0).
        shuffle_bn: MoCo's batch shuffle for :func:`key_forward` under DDP.
        **kwargs: :class:`~skelssl.methods.contrastive.ContrastiveMethod`'s.
    """

    def __init__(self, *, momentum: float = 0.999, final_momentum: float | None = None, shuffle_bn: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        for name, value in (("momentum", momentum), ("final_momentum", final_momentum)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.base_momentum = float(momentum)
        self.final_momentum = None if final_momentum is None else float(final_momentum)
        self.shuffle_bn = bool(shuffle_bn)
        self.total_steps = 0
        self._ema_pairs: list[tuple[nn.Module, nn.Module]] = []
        if self.final_momentum is not None:  # only scheduled runs carry the step count in their state
            self.register_buffer("momentum_step", torch.zeros((), dtype=torch.long))

    @property
    def momentum(self) -> float:
        """The EMA coefficient the next update uses."""
        if self.final_momentum is None:
            return self.base_momentum
        return cosine_momentum(self.base_momentum, self.final_momentum, int(self.momentum_step), self.total_steps)

    def momentum_copy(self, online: nn.Module) -> nn.Module:
        """A frozen copy of ``online`` that follows it by EMA after every optimiser step."""
        target = copy.deepcopy(online)
        for p in target.parameters():
            p.requires_grad_(False)
        self._ema_pairs.append((online, target))
        return target

    def on_train_start(self, total_steps: int) -> None:
        """The engine's number of optimiser steps in the run (the schedule's ``K``)."""
        self.total_steps = int(total_steps)

    def after_optimizer_step(self) -> None:
        m = self.momentum
        for online, target in self._ema_pairs:
            momentum_update(online, target, m)
        if self.final_momentum is not None:
            self.momentum_step += 1


class MoCoBranch:
    """Mixin: a view's ``query`` encoder, its momentum ``key`` copy and its ``queue`` of keys.

    Needs the attributes ``query``, ``key``, ``queue``, ``view``, ``layout``
    and ``shuffle_bn``. Inputs are joint batches; each branch converts them to
    its view.
    """

    query: nn.Module
    key: nn.Module
    queue: MemoryQueue
    view: str
    layout: SkeletonLayout
    shuffle_bn: bool

    def encode_query(self, x_joint: Tensor) -> Tensor:
        """L2-normalised query embeddings ``(N, D)`` of joint input (with gradient)."""
        return F.normalize(self.query(to_view(x_joint, self.view, self.layout)).float(), dim=1)

    def encode_key(self, x_joint: Tensor) -> Tensor:
        """L2-normalised key embeddings from the momentum encoder (no gradient, shuffle-BN across ranks)."""
        z = key_forward(self.key, to_view(x_joint, self.view, self.layout), self.shuffle_bn)
        return F.normalize(z.float(), dim=1)

    def embed(self, x_q: Tensor, x_k: Tensor) -> tuple[Tensor, Tensor]:
        """``(q, k)`` for an augmented pair of joint batches."""
        return self.encode_query(x_q), self.encode_key(x_k)


class ViewBranch(MoCoBranch, nn.Module):
    """A plain module holding one view's :class:`MoCoBranch` (CrosSCLR's per-view branches)."""

    def __init__(self, view: str, layout: SkeletonLayout, query: nn.Module, key: nn.Module, queue: MemoryQueue,
                 shuffle_bn: bool = True) -> None:
        super().__init__()
        self.view, self.layout, self.shuffle_bn = view, layout, shuffle_bn
        self.query, self.key, self.queue = query, key, queue

    def extra_repr(self) -> str:
        return f"view={self.view!r}"
