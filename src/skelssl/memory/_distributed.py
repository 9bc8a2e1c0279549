"""Late-bound access to the engine's collective helpers.

``skelssl.engine.distributed`` owns ``concat_all_gather``, ``all_gather_with_grad``,
``batch_shuffle`` and ``batch_unshuffle``. Memory and methods resolve them at call time, not at
import time, so they import (and run single-process) without the engine and
never form an import cycle with it. Without the engine, a single process gets
the identity; a multi-process run refuses to continue, because silently
skipping the gather would give every rank a different queue.
"""

from __future__ import annotations

from types import ModuleType

import torch
import torch.distributed as dist

__all__ = ["concat_all_gather", "all_gather_with_grad", "batch_shuffle", "batch_unshuffle"]

_engine: ModuleType | None = None


def _helpers() -> ModuleType | None:
    global _engine
    if _engine is None:
        try:
            from skelssl.engine import distributed as engine_distributed
        except ImportError:
            engine_distributed = None
        if engine_distributed is None:
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                raise RuntimeError(
                    "multi-process training needs skelssl.engine.distributed "
                    "(concat_all_gather / batch_shuffle / batch_unshuffle), which could not be imported"
                )
            return None
        _engine = engine_distributed
    return _engine


@torch.no_grad()
def concat_all_gather(t: torch.Tensor) -> torch.Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order (no gradient)."""
    helpers = _helpers()
    return t if helpers is None else helpers.concat_all_gather(t)


def all_gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order, with the gradient flowing back to each rank."""
    helpers = _helpers()
    return t if helpers is None else helpers.all_gather_with_grad(t)


def batch_shuffle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """MoCo's shuffle across ranks; ``(x, None)`` when there is nothing to shuffle against."""
    helpers = _helpers()
    return (x, None) if helpers is None else helpers.batch_shuffle(x)


def batch_unshuffle(x: torch.Tensor, idx_unshuffle: torch.Tensor | None) -> torch.Tensor:
    helpers = _helpers()
    if helpers is None or idx_unshuffle is None:
        return x
    return helpers.batch_unshuffle(x, idx_unshuffle)
