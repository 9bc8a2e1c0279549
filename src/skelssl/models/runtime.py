"""Process-level CPU settings that the models' throughput depends on.

PyTorch on CPU has no caching allocator: every activation larger than glibc's
mmap threshold is a fresh ``mmap`` and is page-faulted in on first touch, every
step (tens of MB per ST-GCN block at batch 128). Keeping freed memory in the
heap removes that cost once the first step has run; the price is that the
process keeps its peak memory. Measured in ``benchmarks/README.md``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

__all__ = ["configure_cpu_runtime"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def configure_cpu_runtime(num_threads: int | None = None, keep_freed_memory: bool = True) -> dict[str, object]:
    """Set intra-op threads and (glibc only) stop returning freed memory to the OS.

    Returns what was applied, for logging. Safe to call more than once.
    """
    applied: dict[str, object] = {}
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    applied["threads"] = torch.get_num_threads()
    applied["keep_freed_memory"] = False
    if keep_freed_memory and sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name or "libc.so.6")
            # mallopt takes a C int: INT_MAX bytes (2 GiB) of free heap top is never trimmed.
            ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
        except (OSError, AttributeError):  # musl and friends have no mallopt
            ok = False
        applied["keep_freed_memory"] = ok
    return applied
