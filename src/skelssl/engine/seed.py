"""Seeding, deterministic mode and exact capture/restore of every random number generator.

RNG state is captured as tensors only (Python's Mersenne Twister words,
NumPy's key and position, torch's CPU/CUDA byte states, any extra
``torch.Generator``), so it can be stored in a safetensors file and gathered
across ranks with ``all_gather`` without pickling anything.
"""

from __future__ import annotations

import contextlib
import os
import random
from typing import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "seed_everything",
    "set_deterministic",
    "deterministic_mode",
    "capture_rng_state",
    "restore_rng_state",
    "module_generators",
]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def set_deterministic(enabled: bool = True) -> None:
    """Deterministic kernels (error on ops without one) and no cuDNN autotuning.

    cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` for reproducible matmuls; it is
    read when CUDA initialises, so it is set here (if unset) before that.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled


@contextlib.contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """Deterministic mode for the duration of a block, restoring the previous flags after it."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    if enabled:
        set_deterministic(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]


def module_generators(module: nn.Module) -> dict[str, torch.Generator]:
    """``torch.Generator`` objects held as attributes anywhere in ``module`` (e.g. an augmentation RNG).

    They are not in ``state_dict``, so the checkpoint captures them here,
    keyed by the submodule path and attribute name.
    """
    found: dict[str, torch.Generator] = {}
    for path, sub in module.named_modules():
        for attr, value in vars(sub).items():
            if isinstance(value, torch.Generator):
                found[f"{path}.{attr}" if path else attr] = value
    return found


def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Tensor]:
    """All RNG state as named CPU tensors (the current CUDA device's state included when CUDA is up)."""
    version, words, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python.words": torch.tensor(words, dtype=torch.int64),
        "python.gauss": torch.tensor([gauss is not None, gauss or 0.0], dtype=torch.float64),
        "numpy.keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64).copy()),
        "numpy.extra": torch.tensor([np_pos, np_has_gauss, np_gauss], dtype=torch.float64),
        "torch.cpu": torch.get_rng_state(),
    }
    if version != 3 or np_name != "MT19937":
        raise RuntimeError(f"unexpected RNG implementation (python v{version}, numpy {np_name})")
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch.cuda"] = torch.cuda.get_rng_state()
    for name, gen in (generators or {}).items():
        state[f"generator.{name}"] = gen.get_state()
    return state


def restore_rng_state(state: Mapping[str, Tensor], generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Inverse of :func:`capture_rng_state`; generators missing from ``state`` are an error."""
    words = tuple(int(w) for w in state["python.words"].tolist())
    has_gauss, gauss = state["python.gauss"].tolist()
    random.setstate((3, words, gauss if has_gauss else None))
    pos, has_np_gauss, np_gauss = state["numpy.extra"].tolist()
    keys = state["numpy.keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(pos), int(has_np_gauss), float(np_gauss)))
    torch.set_rng_state(state["torch.cpu"].to(torch.uint8))
    if "torch.cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["torch.cuda"].to(torch.uint8))
    for name, gen in (generators or {}).items():
        key = f"generator.{name}"
        if key not in state:
            raise KeyError(f"checkpoint has no state for generator {name!r}")
        gen.set_state(state[key].to(torch.uint8))
