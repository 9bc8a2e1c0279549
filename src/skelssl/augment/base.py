"""Shared machinery for batched augmentations: the transform protocol and RNG rules.

Every augmentation works on a whole batch ``(N, C, T, V, M)`` at once and splits
its work into two steps:

``sample_params(x, generator, lengths)``
    Draws every random quantity for the batch (one set per sample) and returns
    them as a ``dict`` of tensors on ``x.device``. Only the *shape* of ``x`` (and
    ``lengths``) is read, never its values.
``apply(x, params, lengths)``
    Deterministic: the same ``x`` and ``params`` always give the same output.

``transform(x, generator)`` is ``apply(x, sample_params(x, generator))``; tests
and methods that need the drawn values (speed labels, partner indices, view
labels) call the two steps themselves.

Randomness
----------
Parameters are drawn on ``generator.device`` and then moved to ``x.device``;
without a generator they come from torch's global CPU generator. Float draws are
always float32 and cast to ``x.dtype`` afterwards. Hence a *CPU* generator seeded
the same way yields the same augmentations whether ``x`` lives on the CPU or a
GPU and whatever its dtype; a CUDA generator keeps the draws on the GPU (no host
round trip) but gives a different stream from a CPU one.

Valid lengths
-------------
Transforms that move frames in time take an optional ``lengths`` ``(N,)``
integer tensor: frames ``[0, lengths[n])`` of sample n are real, the rest is
padding. Such transforms act on the valid prefix only and leave the padding
tail as it was. ``None`` means every one of the T frames is valid.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = [
    "Params",
    "RandomOp",
    "Transform",
    "register_transform",
    "get_transform",
    "list_transforms",
    "resolve_lengths",
    "valid_lengths",
    "coordinate_dims",
]

Params = dict[str, Tensor]

_T = TypeVar("_T", bound=type)
_REGISTRY: dict[str, type[RandomOp]] = {}


def register_transform(name: str, *, overwrite: bool = False) -> Callable[[_T], _T]:
    """Class decorator that makes a transform buildable from a YAML/dict spec by ``name``."""

    def deco(cls: _T) -> _T:
        if not (isinstance(cls, type) and issubclass(cls, RandomOp)):
            raise TypeError(f"register_transform({name!r}): {cls!r} is not a RandomOp subclass")
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not cls:
            raise ValueError(f"transform {name!r} is already registered to {_REGISTRY[name].__name__}")
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return deco


def get_transform(name: str) -> type[RandomOp]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown transform {name!r}; known: {sorted(_REGISTRY)}") from None


def list_transforms() -> list[str]:
    return sorted(_REGISTRY)


def check_batch(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 5:
        raise ValueError(f"expected a batch (N, C, T, V, M), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected a floating-point batch, got dtype {x.dtype}")


def resolve_lengths(lengths: Tensor | None, x: Tensor) -> Tensor:
    """Per-sample valid lengths as an ``(N,)`` int64 tensor on ``x.device``, clamped to ``[1, T]``."""
    n, t = x.shape[0], x.shape[2]
    if lengths is None:
        return torch.full((n,), t, dtype=torch.long, device=x.device)
    lengths = torch.as_tensor(lengths, device=x.device).to(torch.long).reshape(-1)
    if lengths.numel() != n:
        raise ValueError(f"lengths has {lengths.numel()} entries for a batch of {n}")
    return lengths.clamp(1, t)


def valid_lengths(x: Tensor) -> Tensor:
    """``(N,)`` lengths of each sample's valid prefix: up to its last frame with a non-zero value (at least 1).

    For batches that come without lengths: prepared data pads sequences with
    all-zero frames at the end.
    """
    t = x.shape[2]
    used = x.ne(0).flatten(3).any(dim=3).any(dim=1)  # (N, T)
    last = torch.where(used, torch.arange(1, t + 1, device=x.device), 0).amax(dim=1)
    return last.clamp_min(1)


def coordinate_dims(layout: SkeletonLayout | None, num_channels: int) -> int:
    """How many leading channels are spatial coordinates (3 for x/y/z, 2 for x/y/score).

    Without a layout every channel up to three is taken as a coordinate.
    """
    if layout is None:
        return min(num_channels, 3)
    d = 0
    for name in layout.channels[:num_channels]:
        if name not in ("x", "y", "z"):
            break
        d += 1
    return d


# --- random draws ------------------------------------------------------------
# All go through these helpers so the device/dtype rules above hold everywhere.


def gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def rand(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """Uniform [0, 1) float32 on the generator's device."""
    return torch.rand(shape, generator=generator, device=gen_device(generator))


def uniform(low: float, high: float, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * rand(shape, generator)


def randn(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return torch.randn(shape, generator=generator, device=gen_device(generator))


def bernoulli(p: float, n: int, generator: torch.Generator | None) -> Tensor:
    """``(n,)`` bool, True with probability p. Consumes no randomness when p is 0 or 1."""
    dev = gen_device(generator)
    if p >= 1.0:
        return torch.ones(n, dtype=torch.bool, device=dev)
    if p <= 0.0:
        return torch.zeros(n, dtype=torch.bool, device=dev)
    return rand((n,), generator) < p


def randint_below(high: Tensor, generator: torch.Generator | None, extra: tuple[int, ...] = ()) -> Tensor:
    """Uniform integers in ``[0, high)`` with a per-entry (broadcast) ``high``.

    Floor of a scaled uniform rather than ``torch.randint`` because the bound
    varies per sample (e.g. with its valid length).
    """
    high = high.to(gen_device(generator))
    u = rand(tuple(high.shape) + extra, generator)
    h = high.reshape(tuple(high.shape) + (1,) * len(extra))
    return torch.minimum((u * h).long(), (h - 1).clamp_min(0))


def numpy_seed(generator: torch.Generator | None) -> int:
    """One 63-bit draw of the torch generator, to seed a NumPy generator.

    Used for the few distributions (Beta) whose torch samplers take no generator.
    """
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=gen_device(generator)).item())


def to_device(params: Params, x: Tensor) -> Params:
    """Moves params to ``x.device``; float params also take ``x.dtype``."""
    out: Params = {}
    for k, v in params.items():
        if v.is_floating_point():
            out[k] = v.to(device=x.device, dtype=x.dtype)
        else:
            out[k] = v.to(device=x.device)
    return out


def gather_frames(x: Tensor, index: Tensor) -> Tensor:
    """``out[n, :, t] = x[n, :, index[n, t]]`` for an ``(N, T_out)`` index.

    Implemented as one ``index_select`` over contiguous ``(V*M)`` rows, which
    on CPU is several times faster than ``torch.gather`` with an expanded index.
    """
    n, c, t, v, m = x.shape
    t_out = index.shape[1]
    base = (torch.arange(n, device=x.device)[:, None, None] * c + torch.arange(c, device=x.device)[None, :, None]) * t
    rows = (base + index[:, None, :]).reshape(-1)
    return x.reshape(n * c * t, v * m).index_select(0, rows).view(n, c, t_out, v, m)


def frame_positions(x: Tensor) -> Tensor:
    """``(1, T)`` frame indices on ``x.device``."""
    return torch.arange(x.shape[2], device=x.device)[None, :]


class RandomOp(abc.ABC):
    """A batched random operation with replayable parameters.

    ``p`` is the per-sample probability of applying the operation (samples
    that are not drawn pass through unchanged); subclasses without a
    meaningful ``p`` fix it to 1.
    """

    name: ClassVar[str] = ""

    def __init__(self, p: float = 1.0) -> None:
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = p

    @abc.abstractmethod
    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        """Draws one set of parameters per sample; returns tensors on ``x.device``."""

    @abc.abstractmethod
    def apply(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> Any:
        """Applies previously drawn parameters; deterministic."""

    def __call__(self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None) -> Any:
        check_batch(x)
        return self.apply(x, self.sample_params(x, generator, lengths), lengths)

    def _config(self) -> dict[str, Any]:
        return {"p": self.p}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"


class Transform(RandomOp):
    """A :class:`RandomOp` that maps a batch to a batch, so it can go in a :class:`Compose`."""

    def apply(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> Tensor:
        """Applies previously drawn parameters and returns a new batch; ``x`` is not modified."""
        check_batch(x)
        # Implementations reshape with .view(); a no-op for the usual contiguous batch.
        return self._apply(x.contiguous(), params, lengths)

    def apply_(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> Tensor:
        """Like :meth:`apply` but may overwrite ``x``; returns the result (possibly ``x`` itself).

        :class:`~skelssl.augment.pipeline.Compose` uses it on the intermediate
        batches it owns, which saves a full-batch copy per step.
        """
        check_batch(x)
        return self._apply_inplace(x.contiguous(), params, lengths)

    @abc.abstractmethod
    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor: ...

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return self._apply(x, params, lengths)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None) -> Tensor:
        return super().__call__(x, generator, lengths)

    def output_lengths(self, lengths: Tensor | None, x_out: Tensor) -> Tensor | None:
        """Valid lengths after this transform; only transforms that change T override it."""
        return lengths


def layout_or_none(layout: SkeletonLayout | str | None) -> SkeletonLayout | None:
    return None if layout is None else get_layout(layout)


def pair(value: Any, what: str) -> tuple[float, float]:
    """A ``(low, high)`` range from a 2-sequence; YAML gives lists."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (low, high) pair, got {value!r}") from None
    if lo > hi:
        raise ValueError(f"{what}: low {lo} > high {hi}")
    return lo, hi
