"""A FIFO memory of L2-normalised keys: MoCo's queue of negatives.

The queue and its write pointer are registered buffers, so they travel in
``state_dict`` and a resumed run continues with the same negatives.

Semantics of :meth:`MemoryQueue.enqueue`:

* keys are first gathered from every rank (rank order, then batch order), so
  all ranks hold the same queue;
* they are written at ``ptr, ptr + 1, …`` modulo ``size``: when the batch does
  not divide the queue size the write simply wraps around to slot 0 (MoCo
  asserts divisibility instead; wrapping keeps the queue a true FIFO for any
  batch size, including a short last batch);
* a batch larger than the queue keeps only its last ``size`` keys, exactly what
  writing them one by one would leave;
* the pointer then points at the oldest entry, the next one to be overwritten.

:meth:`MemoryQueue.enqueue` writes in place. A graph that used the queue before
the write still needs the old values for its backward pass, so read it through
:meth:`MemoryQueue.snapshot` (a copy), not the ``queue`` buffer itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.memory._distributed import concat_all_gather

__all__ = ["MemoryQueue"]


class MemoryQueue(nn.Module):
    """``size`` keys of dimension ``dim``, initialised to random unit vectors.

    Args:
        size: number of keys kept (K).
        dim: key dimension (D).
        gather: gather keys from all ranks before writing (set False for a
            per-rank memory).
    """

    queue: Tensor
    ptr: Tensor

    def __init__(self, size: int, dim: int, gather: bool = True) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"MemoryQueue needs size >= 1 and dim >= 1, got size={size}, dim={dim}")
        self.size = int(size)
        self.dim = int(dim)
        self.gather = gather
        self.register_buffer("queue", F.normalize(torch.randn(self.size, self.dim), dim=1))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))

    def snapshot(self) -> Tensor:
        """A copy of the ``(K, D)`` queue, safe to use in a graph across a later :meth:`enqueue`."""
        return self.queue.clone()

    def forward(self) -> Tensor:
        return self.snapshot()

    @torch.no_grad()
    def cone(self) -> Tensor:
        """Mean cosine similarity between distinct entries: ~0 spread over the sphere, 1 all the same (collapse).

        ``Σ_{i≠j} k_i·k_j = |Σ_i k_i|² − Σ_i |k_i|²``, so it costs one pass over the queue, not K².
        """
        keys = self.queue.float()
        n = keys.shape[0]
        if n < 2:
            return torch.zeros((), device=keys.device)
        total = keys.sum(dim=0)
        return (total.dot(total) - keys.pow(2).sum()) / (n * (n - 1))

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append ``keys`` ``(B, D)`` (gathered from all ranks first), overwriting the oldest entries."""
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"enqueue expects keys of shape (B, {self.dim}), got {tuple(keys.shape)}")
        if self.gather:
            keys = concat_all_gather(keys.contiguous())
        keys = keys.detach().to(self.queue.dtype)
        n = keys.shape[0]
        if n == 0:
            return
        start = self.ptr
        if n > self.size:
            # The first n - size keys would be overwritten within this same call.
            start = (start + (n - self.size)) % self.size
            keys = keys[n - self.size :]
            n = self.size
        # Index arithmetic stays on the device: no host sync per step.
        slots = (start + torch.arange(n, device=self.queue.device)) % self.size
        self.queue.index_copy_(0, slots, keys)
        self.ptr.copy_((start + n) % self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}, gather={self.gather}"
