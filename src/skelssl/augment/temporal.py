"""Temporal augmentations: crop, flip, blur, playback speed, shuffling, frame sampling, resizing.

Frame-moving transforms build an ``(N, T_out)`` source-frame index from the
drawn parameters and gather once (:func:`~skelssl.augment.base.gather_frames`);
they respect per-sample ``lengths`` (act on the valid prefix, keep the padding
tail) as described in :mod:`skelssl.augment.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from skelssl.augment.base import (
    Params,
    Transform,
    bernoulli,
    frame_positions,
    gather_frames,
    gen_device,
    pair,
    rand,
    randint_below,
    register_transform,
    resolve_lengths,
    to_device,
    uniform,
)

__all__ = [
    "TemporalCrop",
    "TemporalFlip",
    "GaussianBlur",
    "SpeedResample",
    "MotionShuffle",
    "RandomFrameSampling",
    "TemporalResize",
    "SpeedClip",
    "clip_index",
    "linear_resample",
]


def _symmetric_reflect(s: Tensor, length: Tensor) -> Tensor:
    """Maps indices in ``[-L, 2L)`` into ``[0, L)`` by mirroring with the edge frame repeated.

    This is the padding CrosSCLR's ``temporal_crop`` builds with
    ``x[:, :pad][:, ::-1]``: frame 0 is repeated, unlike ``F.pad(mode="reflect")``.
    """
    s = torch.where(s < 0, -s - 1, s)
    s = torch.where(s >= length, 2 * length - 1 - s, s)
    return torch.minimum(s.clamp_min(0), length - 1)


def _full_lengths(lengths: Tensor | None, x_out: Tensor) -> Tensor | None:
    """After a transform that makes every output frame valid."""
    if lengths is None:
        return None
    return torch.full((x_out.shape[0],), x_out.shape[2], dtype=torch.long, device=x_out.device)


def _keep_tail(index: Tensor, length: Tensor) -> Tensor:
    """Frames at or past the valid length map to themselves."""
    t = torch.arange(index.shape[1], device=index.device)[None, :]
    return torch.where(t < length[:, None], index, t)


@register_transform("temporal_crop")
class TemporalCrop(Transform):
    """CrosSCLR/AimCLR ``temporal_crop``: pad ``L // padding_ratio`` mirrored frames on
    both ends of the valid clip, then crop L frames back at a uniform offset.

    The offset is uniform in ``[-pad, pad]`` (``2 * pad + 1`` choices, as the
    reference's ``randint(0, 2 * pad + 1)``). Params: ``offset`` ``(N,)``,
    0 where not applied.
    """

    def __init__(self, padding_ratio: float = 6, p: float = 1.0) -> None:
        super().__init__(p)
        if padding_ratio < 1:
            raise ValueError(f"TemporalCrop: padding_ratio must be >= 1, got {padding_ratio}")
        self.padding_ratio = padding_ratio

    def _pad(self, length: Tensor) -> Tensor:
        r = self.padding_ratio
        if float(r).is_integer():
            return torch.div(length, int(r), rounding_mode="floor")
        return torch.floor(length.double() / float(r)).long()

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        length = resolve_lengths(lengths, x).to(gen_device(generator))
        pad = self._pad(length)
        offset = randint_below(2 * pad + 1, generator) - pad
        offset = offset * bernoulli(self.p, x.shape[0], generator)
        return to_device({"offset": offset}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        length = resolve_lengths(lengths, x)
        src = _symmetric_reflect(frame_positions(x) + params["offset"][:, None], length[:, None])
        return gather_frames(x, _keep_tail(src, length))

    def _config(self) -> dict[str, Any]:
        return {"padding_ratio": self.padding_ratio, "p": self.p}


@register_transform("temporal_flip")
class TemporalFlip(Transform):
    """Plays the valid clip backwards (AimCLR ``random_time_flip``, p=0.5). Params: ``flip`` ``(N,)`` bool."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        return to_device({"flip": bernoulli(self.p, x.shape[0], generator)}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        length = resolve_lengths(lengths, x)[:, None]
        t = frame_positions(x)
        src = torch.where(params["flip"][:, None] & (t < length), length - 1 - t, t)
        return gather_frames(x, src)

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        sel = params["flip"].nonzero().squeeze(1)
        if sel.numel():
            length = resolve_lengths(lengths, x).index_select(0, sel)[:, None]
            t = frame_positions(x)
            src = torch.where(t < length, length - 1 - t, t)
            x.index_copy_(0, sel, gather_frames(x.index_select(0, sel), src))
        return x


@register_transform("gaussian_blur")
class GaussianBlur(Transform):
    """Gaussian smoothing along time with a per-sample sigma (AimCLR ``gaus_filter``).

    Kernel of ``kernel_size`` taps (15 in AimCLR), sigma uniform in ``sigma``
    (``[0.1, 2]``), zero padding at the ends of the valid clip, the same kernel
    for every channel, joint and body. AimCLR does *not* normalise its kernel
    (so a blurred clip is scaled by up to ~5x); ``normalize=False`` reproduces
    that, ``normalize=True`` (default) divides by the kernel sum.

    The convolution is applied as a banded ``T x T`` matrix per sample
    (:meth:`blur_matrix`), so per-sample kernels and lengths need no loop.
    Params: ``sigma`` ``(N,)``, ``on`` ``(N,)`` bool.
    """

    def __init__(
        self, kernel_size: int = 15, sigma: Sequence[float] = (0.1, 2.0), normalize: bool = True, p: float = 0.5
    ) -> None:
        super().__init__(p)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"GaussianBlur: kernel_size must be a positive odd number, got {kernel_size}")
        self.kernel_size = int(kernel_size)
        self.sigma = pair(sigma, "GaussianBlur sigma")
        if self.sigma[0] <= 0:
            raise ValueError("GaussianBlur: sigma must be > 0")
        self.normalize = bool(normalize)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        sigma = uniform(self.sigma[0], self.sigma[1], (n,), generator)
        on = bernoulli(self.p, n, generator)
        return to_device({"sigma": sigma, "on": on}, x)

    def blur_matrix(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> Tensor:
        """``(N, T, T)`` matrix B with ``out[:, :, t] = sum_s B[t, s] x[:, :, s]`` (identity rows where not applied)."""
        length = resolve_lengths(lengths, x)
        b = self._band(params["sigma"], length, x.shape[2])
        eye = torch.eye(x.shape[2], device=x.device, dtype=x.dtype)
        return torch.where(params["on"][:, None, None], b, eye)

    def _band(self, sigma: Tensor, length: Tensor, t_len: int) -> Tensor:
        r = self.kernel_size // 2
        dev, dtype = sigma.device, sigma.dtype
        taps = torch.arange(-r, r + 1, device=dev, dtype=dtype)
        w = torch.exp(-(taps**2) / (2 * sigma[:, None] ** 2))  # (n, K)
        if self.normalize:
            w = w / w.sum(1, keepdim=True)
        t = torch.arange(t_len, device=dev)
        diff = t[None, :] - t[:, None]  # s - t
        # Banded Toeplitz from the taps by indexing: cheaper than evaluating exp on T x T.
        band = w[:, (diff + r).clamp(0, 2 * r)] * (diff.abs() <= r)
        valid = t[None, :] < length[:, None]
        band = band * valid[:, None, :]
        # Rows past the valid length copy their frame (padding tail untouched).
        eye = torch.eye(t_len, device=dev, dtype=dtype)
        return torch.where(valid[:, :, None], band, eye)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return self._apply_inplace(x.clone(), params, lengths)

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t, v, m = x.shape
        sel = params["on"].nonzero().squeeze(1)
        if sel.numel():
            # Only drawn samples are multiplied (half the batch at p=0.5).
            length = resolve_lengths(lengths, x).index_select(0, sel)
            b = self._band(params["sigma"].index_select(0, sel), length, t)
            xs = x.index_select(0, sel).view(-1, c, t, v * m)
            x.index_copy_(0, sel, torch.matmul(b[:, None], xs).view(-1, c, t, v, m))
        return x

    def _config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "sigma": self.sigma, "normalize": self.normalize, "p": self.p}


@register_transform("speed")
class SpeedResample(Transform):
    """Playback-speed change: output frame t shows frame ``floor(t * s) mod L``.

    s is drawn per sample from ``speeds`` (uniformly, or with ``probs``); a clip
    that runs past its end loops. 1x is the identity. Speeds below 1 slow the
    clip down by repeating frames. Params: ``speed`` ``(N,)`` and
    ``speed_index`` ``(N,)`` (the class label for speed-prediction tasks).
    """

    def __init__(self, speeds: Sequence[float] = (1, 2, 4, 8), probs: Sequence[float] | None = None) -> None:
        super().__init__(1.0)
        self.speeds = tuple(float(s) for s in speeds)
        if not self.speeds or any(s <= 0 for s in self.speeds):
            raise ValueError(f"SpeedResample: speeds must be positive, got {speeds!r}")
        if probs is None:
            self.probs = tuple(1.0 / len(self.speeds) for _ in self.speeds)
        else:
            if len(probs) != len(self.speeds) or any(q < 0 for q in probs) or sum(probs) <= 0:
                raise ValueError(f"SpeedResample: probs must be {len(self.speeds)} non-negative weights, got {probs!r}")
            total = float(sum(probs))
            self.probs = tuple(float(q) / total for q in probs)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        dev = gen_device(generator)
        cdf = torch.tensor(self.probs, device=dev, dtype=torch.float64).cumsum(0)
        u = rand((x.shape[0],), generator).double()
        index = torch.searchsorted(cdf, u, right=True).clamp_max(len(self.speeds) - 1)
        speed = torch.tensor(self.speeds, device=dev)[index]
        return to_device({"speed": speed, "speed_index": index}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        length = resolve_lengths(lengths, x)
        t = frame_positions(x).double()
        src = torch.floor(t * params["speed"].double()[:, None] + 1e-9).long()
        src = torch.remainder(src, length[:, None])
        return gather_frames(x, _keep_tail(src, length))

    def _config(self) -> dict[str, Any]:
        return {"speeds": self.speeds, "probs": self.probs}


@register_transform("motion_shuffle")
class MotionShuffle(Transform):
    """Random temporal permutation of frames (``segments=None``) or of equal segments.

    Used to build motion-order negatives (MCC). The valid clip is cut into
    ``segments`` contiguous pieces at ``floor(k * L / segments)`` and the
    pieces are concatenated in a uniformly random order. With
    ``ensure_changed`` a draw that keeps the original order is replaced by a
    cyclic shift by one piece, so every shuffled sample differs from its input
    (for clips with at least two frames/segments).
    Params: ``order`` ``(N, T)`` (frame mode) or ``(N, segments)``.
    """

    def __init__(self, segments: int | None = None, ensure_changed: bool = True, p: float = 1.0) -> None:
        super().__init__(p)
        if segments is not None and segments < 1:
            raise ValueError(f"MotionShuffle: segments must be >= 1, got {segments}")
        self.segments = None if segments is None else int(segments)
        self.ensure_changed = bool(ensure_changed)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n, t_len = x.shape[0], x.shape[2]
        dev = gen_device(generator)
        if self.segments is None:
            size = t_len
            count = resolve_lengths(lengths, x).to(dev)
        else:
            size = self.segments
            count = torch.full((n,), size, device=dev, dtype=torch.long)
        pos = torch.arange(size, device=dev)[None, :]
        keys = rand((n, size), generator)
        # Positions past the valid count sort after the valid ones, in order.
        keys = torch.where(pos < count[:, None], keys, 2.0 + pos.float())
        order = keys.argsort(dim=1)
        if self.ensure_changed:
            unchanged = (order == pos).all(1) & (count > 1)
            shifted = torch.where(pos < count[:, None], torch.remainder(pos + 1, count[:, None]), pos)
            order = torch.where(unchanged[:, None], shifted, order)
        on = bernoulli(self.p, n, generator)
        order = torch.where(on[:, None], order, pos.expand(n, size))
        return to_device({"order": order}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        order = params["order"]
        if self.segments is None:
            return gather_frames(x, order)
        length = resolve_lengths(lengths, x)
        s = self.segments
        k = torch.arange(s + 1, device=x.device)[None, :]
        bounds = torch.div(k * length[:, None], s, rounding_mode="floor")  # (N, S+1)
        starts, seg_len = bounds[:, :-1], bounds[:, 1:] - bounds[:, :-1]
        src_start = starts.gather(1, order)
        src_len = seg_len.gather(1, order)
        out_end = src_len.cumsum(1)  # end of the j-th output piece
        t = frame_positions(x).expand(x.shape[0], -1).contiguous()
        j = torch.searchsorted(out_end, t, right=True).clamp_max(s - 1)
        src = src_start.gather(1, j) + t - (out_end.gather(1, j) - src_len.gather(1, j))
        return gather_frames(x, _keep_tail(src, length))

    def _config(self) -> dict[str, Any]:
        return {"segments": self.segments, "ensure_changed": self.ensure_changed, "p": self.p}


def clip_index(start: Tensor, step: Tensor, num_frames: int, length: Tensor) -> Tensor:
    """``(N, num_frames)`` source frames ``start + step·t`` wrapped into ``[0, length)``.

    A clip that runs past the end of its sequence loops over it from the start
    (MCC §3.1); ``step`` may be a tensor of per-sample integers.
    """
    t = torch.arange(num_frames, device=start.device)[None, :]
    return torch.remainder(start[:, None] + step[:, None] * t, length[:, None])


@register_transform("speed_clip")
class SpeedClip(Transform):
    """A ``num_frames`` clip from a random start at a random playback speed: every r-th frame, looping.

    Output frame t shows frame ``(start + r·t) mod L`` of the valid clip (MCC's
    and pace prediction's clip sampling: r ∈ ``speeds``, start uniform in
    ``[0, L)``). Params: ``start`` ``(N,)``, ``speed`` ``(N,)`` (integers) and
    ``speed_index`` ``(N,)`` (the pace label).
    """

    def __init__(self, num_frames: int = 32, speeds: Sequence[int] = (1, 2, 4, 8)) -> None:
        super().__init__(1.0)
        self.num_frames = int(num_frames)
        self.speeds = tuple(int(r) for r in speeds)
        if self.num_frames < 1 or not self.speeds or min(self.speeds) < 1:
            raise ValueError(f"SpeedClip: needs num_frames >= 1 and integer speeds >= 1, got {num_frames}, {speeds}")

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        dev = gen_device(generator)
        length = resolve_lengths(lengths, x).to(dev)
        start = randint_below(length, generator)
        index = randint_below(torch.full_like(length, len(self.speeds)), generator)
        speed = torch.tensor(self.speeds, device=dev)[index]
        return to_device({"start": start, "speed": speed, "speed_index": index}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        length = resolve_lengths(lengths, x)
        return gather_frames(x, clip_index(params["start"], params["speed"], self.num_frames, length))

    def output_lengths(self, lengths: Tensor | None, x_out: Tensor) -> Tensor | None:
        return _full_lengths(lengths, x_out)

    def _config(self) -> dict[str, Any]:
        return {"num_frames": self.num_frames, "speeds": self.speeds}


@register_transform("random_frames")
class RandomFrameSampling(Transform):
    """Samples ``num_frames`` frames at random from the valid clip, kept in temporal order.

    Without replacement when the clip has at least ``num_frames`` valid frames
    (ASSL uses 40), otherwise with replacement. The output has T = num_frames,
    all valid. Params: ``index`` ``(N, num_frames)``, sorted.
    """

    def __init__(self, num_frames: int = 40) -> None:
        super().__init__(1.0)
        if num_frames < 1:
            raise ValueError(f"RandomFrameSampling: num_frames must be >= 1, got {num_frames}")
        self.num_frames = int(num_frames)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n, t_len = x.shape[0], x.shape[2]
        k = self.num_frames
        length = resolve_lengths(lengths, x).to(gen_device(generator))
        pos = torch.arange(t_len, device=length.device)[None, :]
        # Both draws are always made so the stream does not depend on lengths.
        keys = torch.where(pos < length[:, None], rand((n, t_len), generator), 2.0)
        with_repl = randint_below(length, generator, extra=(k,))
        if k <= t_len:
            without = keys.topk(k, dim=1, largest=False).indices
        else:
            without = with_repl
        index = torch.where((length >= k)[:, None], without, with_repl).sort(dim=1).values
        return to_device({"index": index}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return gather_frames(x, params["index"])

    def output_lengths(self, lengths: Tensor | None, x_out: Tensor) -> Tensor | None:
        return _full_lengths(lengths, x_out)

    def _config(self) -> dict[str, Any]:
        return {"num_frames": self.num_frames}


def linear_resample(x: Tensor, length: Tensor, num_frames: int) -> Tensor:
    """Linearly resamples frames ``[0, length[n])`` of each sample to ``num_frames`` frames.

    Same sampling grid as ``F.interpolate(mode="linear", align_corners=False)``
    (source position ``(j + 0.5) * L / num_frames - 0.5``, clamped at 0), but
    with a per-sample L.
    """
    scale = length.to(x.dtype)[:, None] / num_frames
    j = torch.arange(num_frames, device=x.device, dtype=x.dtype)[None, :]
    src = ((j + 0.5) * scale - 0.5).clamp_min(0)
    i0 = torch.minimum(src.floor().long(), length[:, None] - 1)
    i1 = torch.minimum(i0 + 1, length[:, None] - 1)
    w = (src - i0.to(x.dtype))[:, None, :, None, None]
    return torch.lerp(gather_frames(x, i0), gather_frames(x, i1), w)


@register_transform("temporal_resize")
class TemporalResize(Transform):
    """Linear interpolation of the valid clip to ``num_frames`` frames (deterministic).

    With all frames valid this is one batched ``F.interpolate``; with
    ``lengths`` each sample's valid prefix is stretched to the new length.
    """

    def __init__(self, num_frames: int = 50) -> None:
        super().__init__(1.0)
        if num_frames < 1:
            raise ValueError(f"TemporalResize: num_frames must be >= 1, got {num_frames}")
        self.num_frames = int(num_frames)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        return {}

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t, v, m = x.shape
        if lengths is None:
            # Bilinear over (T, V*M) with V*M unchanged is exact linear interpolation along T.
            out = F.interpolate(
                x.reshape(n, c, t, v * m), size=(self.num_frames, v * m), mode="bilinear", align_corners=False
            )
            return out.view(n, c, self.num_frames, v, m)
        return linear_resample(x, resolve_lengths(lengths, x), self.num_frames)

    def output_lengths(self, lengths: Tensor | None, x_out: Tensor) -> Tensor | None:
        return _full_lengths(lengths, x_out)

    def _config(self) -> dict[str, Any]:
        return {"num_frames": self.num_frames}

