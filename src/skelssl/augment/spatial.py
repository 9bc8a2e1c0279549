"""Spatial augmentations: shear, rotation, scale, left/right flip, axis mask, Gaussian noise, min-max normalisation.

Linear maps act on the coordinate channels only (x, y, z; or x, y for 2-D
layouts such as openpose18, whose third channel is a confidence score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from skelssl.augment.base import (
    Params,
    Transform,
    bernoulli,
    coordinate_dims,
    gen_device,
    layout_or_none,
    pair,
    rand,
    randint_below,
    randn,
    register_transform,
    resolve_lengths,
    to_device,
    uniform,
)
from skelssl.data.layouts import SkeletonLayout

__all__ = [
    "Shear",
    "RandomRotation",
    "RandomScale",
    "MinMaxNormalize",
    "SpatialFlip",
    "AxisMask",
    "GaussianNoise",
    "rotation_matrices",
    "apply_channel_matrix",
]

_AXES = ("x", "y", "z")


def rotation_matrices(angles: Tensor) -> Tensor:
    """``(..., 3)`` angles in radians -> ``(..., 3, 3)`` matrices ``R_z R_y R_x``.

    Right-handed, active rotations (a point at +y rotated by +90° about x goes
    to +z); x is applied first, then y, then z.
    """
    c, s = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(angles[..., 0]), torch.zeros_like(angles[..., 0])
    cx, cy, cz = c.unbind(-1)
    sx, sy, sz = s.unbind(-1)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1)
    shape = angles.shape[:-1] + (3, 3)
    return rz.view(shape) @ ry.view(shape) @ rx.view(shape)


def apply_channel_matrix(x: Tensor, mat: Tensor) -> Tensor:
    """``out[n, :D] = mat[n] @ x[n, :D]`` for ``(N, D, D)`` or per-frame ``(N, T, D, D)`` matrices.

    Channels beyond D (e.g. a confidence score) are copied unchanged.
    """
    n, c = x.shape[:2]
    d = mat.shape[-1]
    coords = x[:, :d]
    if mat.ndim == 3:
        # bmm on (N, D, T*V*M) is the fastest CPU path for the tiny D x D maps.
        out = torch.bmm(mat, coords.reshape(n, d, -1)).view(coords.shape)
    else:
        out = torch.einsum("ntij,njtvm->nitvm", mat, coords)
    if d == c:
        return out.contiguous()
    return torch.cat([out, x[:, d:]], dim=1)


def _coord_dims_checked(layout: SkeletonLayout | None, x: Tensor, who: str) -> int:
    d = coordinate_dims(layout, x.shape[1])
    if d < 2:
        raise ValueError(f"{who}: needs at least 2 coordinate channels, the batch/layout has {d}")
    return d


@register_transform("shear")
class Shear(Transform):
    """Per-sample shear: ``x' = S x`` with ``S = I + off-diagonals ~ U[-beta, beta]``.

    The SkeletonCLR/CrosSCLR/AimCLR ``shear`` (default ``beta=0.5``). Each
    off-diagonal entry is drawn independently per sample; ``beta=0`` is the
    identity. Params: ``matrix`` ``(N, D, D)``.
    """

    def __init__(self, beta: float = 0.5, p: float = 1.0, layout: SkeletonLayout | str | None = None) -> None:
        super().__init__(p)
        if beta < 0:
            raise ValueError(f"Shear: beta must be >= 0, got {beta}")
        self.beta = float(beta)
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        d = _coord_dims_checked(self.layout, x, "Shear")
        eye = torch.eye(d, device=gen_device(generator))
        off = uniform(-self.beta, self.beta, (n, d, d), generator) * (1 - eye)
        off = off * bernoulli(self.p, n, generator)[:, None, None]
        return to_device({"matrix": eye + off}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return apply_channel_matrix(x, params["matrix"])

    def _config(self) -> dict[str, Any]:
        return {"beta": self.beta, "p": self.p}


@register_transform("rotation")
class RandomRotation(Transform):
    """Per-sample rotation about the origin by angles drawn per axis.

    ``angles`` gives a ``(low, high)`` range for each of x, y, z (degrees unless
    ``degrees=False``). If ``main_axis_angles`` is set, one axis per sample,
    chosen uniformly, draws from that range instead — AimCLR's ``random_rotate``
    (one main axis up to 30°, the other two up to 1°). The matrix is
    ``R_z R_y R_x`` (see :func:`rotation_matrices`). For 2-D layouts only the
    z angle (in-image rotation) is used.

    Params: ``angles`` ``(N, 3)`` radians, ``matrix`` ``(N, D, D)``.
    """

    def __init__(
        self,
        angles: Sequence[Sequence[float]] = ((-30.0, 30.0), (-30.0, 30.0), (-30.0, 30.0)),
        main_axis_angles: Sequence[float] | None = None,
        degrees: bool = True,
        p: float = 1.0,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(p)
        if len(angles) != 3:
            raise ValueError(f"RandomRotation: angles needs one (low, high) range per axis x, y, z, got {angles!r}")
        self.angles = tuple(pair(a, f"RandomRotation angles[{ax}]") for a, ax in zip(angles, _AXES))
        self.main_axis_angles = None if main_axis_angles is None else pair(main_axis_angles, "main_axis_angles")
        self.degrees = bool(degrees)
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        d = _coord_dims_checked(self.layout, x, "RandomRotation")
        dev = gen_device(generator)
        lo = torch.tensor([a[0] for a in self.angles], device=dev)
        hi = torch.tensor([a[1] for a in self.angles], device=dev)
        ang = lo + (hi - lo) * rand((n, 3), generator)
        if self.main_axis_angles is not None:
            main = randint_below(torch.full((n,), 3, device=dev), generator)
            mlo, mhi = self.main_axis_angles
            main_ang = uniform(mlo, mhi, (n,), generator)
            is_main = torch.arange(3, device=dev)[None, :] == main[:, None]
            ang = torch.where(is_main, main_ang[:, None], ang)
        if self.degrees:
            ang = ang * (math.pi / 180.0)
        ang = ang * bernoulli(self.p, n, generator)[:, None]
        if d == 2:
            ang = ang * torch.tensor([0.0, 0.0, 1.0], device=dev)
        params = to_device({"angles": ang}, x)
        # Matrices from the angles in x's dtype, so float64 inputs get float64-exact rotations.
        params["matrix"] = rotation_matrices(params["angles"])[:, :d, :d]
        return params

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return apply_channel_matrix(x, params["matrix"])

    def _config(self) -> dict[str, Any]:
        return {"angles": self.angles, "main_axis_angles": self.main_axis_angles, "degrees": self.degrees, "p": self.p}


@register_transform("scale")
class RandomScale(Transform):
    """Per-sample scaling of the coordinates by a factor drawn uniformly from ``scale``.

    ``per_axis=True`` draws one factor per axis (anisotropic). CTR-GCN's N-UCLA
    loader draws one factor in ``[0.5, 1.5]``. Params: ``factor`` ``(N, D)``.
    """

    def __init__(self, scale: Sequence[float] = (0.5, 1.5), per_axis: bool = False, p: float = 1.0,
                 layout: SkeletonLayout | str | None = None) -> None:
        super().__init__(p)
        self.scale = pair(scale, "RandomScale scale")
        self.per_axis = bool(per_axis)
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        d = _coord_dims_checked(self.layout, x, "RandomScale")
        lo, hi = self.scale
        factor = uniform(lo, hi, (n, d if self.per_axis else 1), generator).expand(n, d)
        factor = torch.where(bernoulli(self.p, n, generator)[:, None], factor, torch.ones_like(factor))
        return to_device({"factor": factor.contiguous()}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return apply_channel_matrix(x, torch.diag_embed(params["factor"]))

    def _config(self) -> dict[str, Any]:
        return {"scale": self.scale, "per_axis": self.per_axis, "p": self.p}


@register_transform("minmax_normalize")
class MinMaxNormalize(Transform):
    """Deterministic per-sample, per-axis min-max of the coordinates to ``[low, high]``.

    The input normalisation of AGC-LSTM / CTR-GCN's N-UCLA loader, which runs
    it after the random rotation (so it also undoes any random scale). The
    range is taken over the valid frames (``lengths``) of the present bodies (a
    body-frame with any non-zero coordinate); padding and absent bodies are left
    as they are, and an axis without spread maps to the middle of the range.
    """

    def __init__(self, low: float = -1.0, high: float = 1.0, layout: SkeletonLayout | str | None = None) -> None:
        super().__init__(1.0)
        self.low, self.high = pair((low, high), "MinMaxNormalize range")
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        return {}

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        d = _coord_dims_checked(self.layout, x, "MinMaxNormalize")
        coords = x[:, :d]
        t = x.shape[2]
        valid = torch.arange(t, device=x.device)[None, :] < resolve_lengths(lengths, x)[:, None]  # (N, T)
        present = (coords != 0).any(dim=1).any(dim=2) & valid[:, :, None]  # (N, T, M)
        mask = present[:, None, :, None, :]
        big = torch.finfo(x.dtype).max
        lo = torch.where(mask, coords, big).amin(dim=(2, 3, 4), keepdim=True)
        hi = torch.where(mask, coords, -big).amax(dim=(2, 3, 4), keepdim=True)
        span = hi - lo
        spread = span > 0
        scaled = (coords - lo) * ((self.high - self.low) / torch.where(spread, span, torch.ones_like(span))) + self.low
        out = torch.where(spread, scaled, torch.full_like(coords, (self.low + self.high) / 2))
        out = torch.where(mask, out, coords)
        return out if d == x.shape[1] else torch.cat([out, x[:, d:]], dim=1)

    def _config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


@register_transform("spatial_flip")
class SpatialFlip(Transform):
    """Left/right mirror: swaps the layout's mirror pairs; optionally negates x.

    AimCLR's ``random_spatial_flip`` swaps joints only (``negate_x=False``);
    with ``negate_x=True`` the result is a true reflection of the body through
    the camera's y-z plane. Applying the same params twice is the identity.
    Params: ``flip`` ``(N,)`` bool.
    """

    def __init__(self, layout: SkeletonLayout | str | None = None, negate_x: bool = False, p: float = 0.5) -> None:
        super().__init__(p)
        if layout is None:
            raise ValueError("SpatialFlip needs a layout (for its mirror pairs); pass layout=...")
        self.layout = layout_or_none(layout)
        self.negate_x = bool(negate_x)
        self._perm = torch.as_tensor(self.layout.mirror_permutation, dtype=torch.long)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        if x.shape[3] != self.layout.num_joints:
            raise ValueError(
                f"SpatialFlip: layout {self.layout.name!r} has {self.layout.num_joints} joints, "
                f"batch has V={x.shape[3]}"
            )
        return to_device({"flip": bernoulli(self.p, x.shape[0], generator)}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return self._apply_inplace(x.clone(), params, lengths)

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t, v, m = x.shape
        sel = params["flip"].nonzero().squeeze(1)
        if sel.numel():
            # Only flipped samples are touched, and the joint permutation is an
            # index_select over the contiguous (V*M) rows: several times faster
            # on CPU than permuting dim 3 of the 5-D tensor.
            perm = self._perm.to(x.device)
            cols = (perm[:, None] * m + torch.arange(m, device=x.device)).reshape(-1)
            moved = x.index_select(0, sel).view(-1, v * m).index_select(1, cols).view(-1, c, t, v, m)
            if self.negate_x:
                moved[:, 0].neg_()
            x.index_copy_(0, sel, moved)
        return x

    def _config(self) -> dict[str, Any]:
        return {"layout": self.layout.name, "negate_x": self.negate_x, "p": self.p}


@register_transform("axis_mask")
class AxisMask(Transform):
    """Zeroes one coordinate channel per sample, chosen uniformly from ``axes``.

    AimCLR's ``axis_mask`` (p=0.5, one of x, y, z). ``axes=None`` means all
    coordinate channels. Params: ``scale`` ``(N, C)`` with a 0 at the masked
    channel (all ones where not applied), ``axis`` ``(N,)``.
    """

    def __init__(
        self, axes: Sequence[int] | None = None, p: float = 0.5, layout: SkeletonLayout | str | None = None
    ) -> None:
        super().__init__(p)
        self.axes = None if axes is None else tuple(int(a) for a in axes)
        if self.axes is not None and not self.axes:
            raise ValueError("AxisMask: axes must not be empty")
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n, c = x.shape[:2]
        dev = gen_device(generator)
        axes = self.axes if self.axes is not None else tuple(range(coordinate_dims(self.layout, c)))
        if any(not 0 <= a < c for a in axes):
            raise ValueError(f"AxisMask: axes {axes} out of range for C={c}")
        choice = randint_below(torch.full((n,), len(axes), device=dev), generator)
        axis = torch.tensor(axes, device=dev)[choice]
        on = bernoulli(self.p, n, generator)
        scale = torch.ones(n, c, device=dev)
        scale[torch.arange(n, device=dev), axis] = 0.0
        scale = torch.where(on[:, None], scale, torch.ones_like(scale))
        return to_device({"scale": scale, "axis": torch.where(on, axis, -1)}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return x * params["scale"][:, :, None, None, None]

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return x.mul_(params["scale"][:, :, None, None, None])

    def _config(self) -> dict[str, Any]:
        return {"axes": self.axes, "p": self.p}


@register_transform("gaussian_noise")
class GaussianNoise(Transform):
    """Adds i.i.d. ``N(mean, std^2)`` noise to every element of the drawn samples.

    AimCLR's ``gaus_noise`` (mean 0, std 0.01, p=0.5); like it, padding frames
    and absent bodies get noise too. Params: ``index`` ``(k,)``, the drawn
    samples, and their ``noise`` ``(k, C, T, V, M)``.
    """

    def __init__(self, mean: float = 0.0, std: float = 0.01, p: float = 0.5) -> None:
        super().__init__(p)
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.mean = float(mean)
        self.std = float(std)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        on = bernoulli(self.p, n, generator)
        index = on.nonzero().squeeze(1)
        # Normal draws dominate the cost, so only the drawn samples get them.
        noise = randn((index.numel(),) + tuple(x.shape[1:]), generator)
        if self.std != 1.0:
            noise.mul_(self.std)
        if self.mean != 0.0:
            noise.add_(self.mean)
        return to_device({"index": index, "noise": noise}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return x.index_add(0, params["index"], params["noise"])

    def _apply_inplace(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        return x.index_add_(0, params["index"], params["noise"])

    def _config(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "p": self.p}
