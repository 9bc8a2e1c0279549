"""Virtual cameras: re-view a 3-D sequence from another angle and distance.

:class:`VirtualCamera` rotates the subject about its first-frame centre and
moves it along an axis (an augmentation); :class:`ObservationCamera` is Gao et
al.'s observation coordinate system (eq. 1–3), the view/distance SimCLR's
augmentation. The drawn angle/distance *indices* are part of the params, so
they can serve as labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from skelssl.augment.base import (
    Params,
    Transform,
    coordinate_dims,
    gen_device,
    layout_or_none,
    pair,
    rand,
    randint_below,
    register_transform,
    resolve_lengths,
    to_device,
)
from skelssl.augment.spatial import rotation_matrices
from skelssl.data.layouts import SkeletonLayout

__all__ = ["VirtualCamera", "ObservationCamera"]

_AXES = ("x", "y", "z")


@register_transform("virtual_camera")
class VirtualCamera(Transform):
    """Rotation about a pivot, then translation by a multiple of a unit distance.

    Per axis, the angle is either drawn from a discrete set (``angles``, e.g.
    ``{"y": [0, 60, 120, 180, 240, 300]}`` for views around the vertical axis
    of Kinect data) or uniformly from a range (``angle_ranges``, e.g.
    ``{"x": [-10, 10]}``); axes named in neither stay at 0. The translation is
    ``distances[k] * unit_distance`` along ``translation_axis`` (``"z"``, the
    Kinect depth axis, by default), k uniform.

    ``per_frame=False`` draws one camera per sequence; ``per_frame=True`` one
    per frame. ``pivot="center"`` rotates about the layout's centre joint of
    body 0 in the first frame (the subject stays in place, the camera moves
    around it); ``pivot="origin"`` rotates about the sensor. Frames past
    ``lengths`` and all-zero (absent) bodies are left untouched so padding stays
    zero. Needs a 3-D layout.

    Params (leading shape ``(N,)``, or ``(N, T)`` per frame): ``angles``
    ``(..., 3)`` radians; ``angle_index`` ``(..., 3)`` index into each axis's set
    (-1 for range/unused axes); ``distance_index``; ``translation`` ``(..., 3)``;
    ``matrix`` ``(..., 3, 3)``.
    """

    def __init__(
        self,
        angles: Mapping[str, Sequence[float]] | None = None,
        angle_ranges: Mapping[str, Sequence[float]] | None = None,
        distances: Sequence[float] = (0.0,),
        unit_distance: float = 1.0,
        translation_axis: str | Sequence[float] = "z",
        per_frame: bool = False,
        pivot: str = "center",
        degrees: bool = True,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(1.0)
        angles = dict(angles or {})
        angle_ranges = dict(angle_ranges or {})
        for ax in (*angles, *angle_ranges):
            if ax not in _AXES:
                raise ValueError(f"VirtualCamera: unknown axis {ax!r}; use x, y or z")
        both = set(angles) & set(angle_ranges)
        if both:
            raise ValueError(f"VirtualCamera: axis {sorted(both)} has both a set of angles and a range")
        self.angles = {ax: tuple(float(a) for a in v) for ax, v in angles.items()}
        if any(not v for v in self.angles.values()):
            raise ValueError("VirtualCamera: an angle set must not be empty")
        self.angle_ranges = {ax: pair(v, f"VirtualCamera angle_ranges[{ax}]") for ax, v in angle_ranges.items()}
        self.distances = tuple(float(d) for d in distances)
        if not self.distances:
            raise ValueError("VirtualCamera: distances must not be empty")
        self.unit_distance = float(unit_distance)
        if isinstance(translation_axis, str):
            if translation_axis not in _AXES:
                raise ValueError(f"VirtualCamera: translation_axis {translation_axis!r} is not x, y or z")
            direction = [0.0, 0.0, 0.0]
            direction[_AXES.index(translation_axis)] = 1.0
        else:
            direction = [float(a) for a in translation_axis]
            if len(direction) != 3:
                raise ValueError("VirtualCamera: translation_axis must be an axis name or a 3-vector")
        self.translation_axis = tuple(direction)
        self.per_frame = bool(per_frame)
        if pivot not in ("center", "origin"):
            raise ValueError(f"VirtualCamera: pivot must be 'center' or 'origin', got {pivot!r}")
        self.pivot = pivot
        self.degrees = bool(degrees)
        self.layout = layout_or_none(layout)
        if pivot == "center" and self.layout is None:
            raise ValueError("VirtualCamera: pivot='center' needs a layout (for its centre joint)")

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        if coordinate_dims(self.layout, x.shape[1]) != 3:
            raise ValueError("VirtualCamera needs 3-D coordinates (x, y, z)")
        dev = gen_device(generator)
        lead = (x.shape[0], x.shape[2]) if self.per_frame else (x.shape[0],)
        scale = math.pi / 180.0 if self.degrees else 1.0
        ang, idx = [], []
        for ax in _AXES:
            if ax in self.angles:
                choices = torch.tensor(self.angles[ax], device=dev)
                k = randint_below(torch.full(lead, len(choices), device=dev), generator)
                ang.append(choices[k] * scale)
                idx.append(k)
            elif ax in self.angle_ranges:
                lo, hi = self.angle_ranges[ax]
                ang.append((lo + (hi - lo) * rand(lead, generator)) * scale)
                idx.append(torch.full(lead, -1, device=dev, dtype=torch.long))
            else:
                ang.append(torch.zeros(lead, device=dev))
                idx.append(torch.full(lead, -1, device=dev, dtype=torch.long))
        angles = torch.stack(ang, -1)
        dist_k = randint_below(torch.full(lead, len(self.distances), device=dev), generator)
        dist = torch.tensor(self.distances, device=dev)[dist_k] * self.unit_distance
        translation = dist[..., None] * torch.tensor(self.translation_axis, device=dev)
        params = to_device(
            {
                "angles": angles,
                "angle_index": torch.stack(idx, -1),
                "distance_index": dist_k,
                "translation": translation,
            },
            x,
        )
        params["matrix"] = rotation_matrices(params["angles"])
        return params

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t_len, v, m = x.shape
        coords = x[:, :3]
        if self.pivot == "center":
            if v != self.layout.num_joints:
                raise ValueError(
                    f"VirtualCamera: layout {self.layout.name!r} has {self.layout.num_joints} joints, batch has V={v}"
                )
            piv = coords[:, :, 0, self.layout.center, 0][:, :, None, None, None]
        else:
            piv = torch.zeros(n, 3, 1, 1, 1, device=x.device, dtype=x.dtype)
        mat, trans = params["matrix"], params["translation"]
        if self.per_frame:
            moved = torch.einsum("ntij,njtvm->nitvm", mat, coords - piv)
            trans = trans.permute(0, 2, 1)[:, :, :, None, None]
        else:
            moved = torch.bmm(mat, (coords - piv).reshape(n, 3, -1)).view(coords.shape)
            trans = trans[:, :, None, None, None]
        moved = moved + piv + trans
        length = resolve_lengths(lengths, x)
        present = (coords != 0).any(dim=1).any(dim=2)  # (N, T, M)
        present = present & (torch.arange(t_len, device=x.device)[None, :, None] < length[:, None, None])
        out = torch.where(present[:, None, :, None, :], moved, coords)
        if c == 3:
            return out
        return torch.cat([out, x[:, 3:]], dim=1)

    def _config(self) -> dict[str, Any]:
        return {
            "angles": self.angles,
            "angle_ranges": self.angle_ranges,
            "distances": self.distances,
            "unit_distance": self.unit_distance,
            "translation_axis": self.translation_axis,
            "per_frame": self.per_frame,
            "pivot": self.pivot,
        }


@register_transform("observation_camera")
class ObservationCamera(VirtualCamera):
    r"""Gao et al.'s virtual camera (NeurIPS-W 2020, §3.1, eq. 1–3).

    The origin is first moved to the body centre (the layout's centre joint of
    body 0) in the first frame; each joint is then expressed in an observation
    coordinate system translated by ``d`` and rotated by α, β, γ anticlockwise
    about the x, y and z axes::

        v' = R (v − d),   R = R^x(α) R^y(β) R^z(γ)                              (1, 2)

    where each factor is the *coordinate* transform of an anticlockwise
    rotation of the axes (right-handed; the transpose of the active rotation
    of a point), e.g. ``R^z(γ) = [[cos γ, sin γ, 0], [−sin γ, cos γ, 0], [0, 0, 1]]``
    and ``R^y(β) = [[cos β, 0, −sin β], [0, 1, 0], [sin β, 0, cos β]]``. The
    paper prints the first of these as its "R^y" (eq. 3), a rotation in the x–y
    plane; we take the text's "around the y-axis" (see ``docs/methods.md``).

    ``d = k · unit_distance · translation_axis`` with ``k`` drawn from
    ``distances`` (the paper: 0…5). The default axis ``(0, 0, −1)`` puts the
    camera ``k`` units in front of the subject along the Kinect depth axis, so
    the subject moves ``k`` units further away. Angles come from discrete sets
    per axis (``angles={"x": [0, 60, …, 300], ...}``, degrees) or ranges, as
    :class:`VirtualCamera`; ``per_frame`` draws one camera per frame instead of
    per sequence. Frames past ``lengths`` and absent (all-zero) bodies stay
    zero. Params: as :class:`VirtualCamera`, ``matrix`` being ``R``.
    """

    def __init__(
        self,
        angles: Mapping[str, Sequence[float]] | None = None,
        angle_ranges: Mapping[str, Sequence[float]] | None = None,
        distances: Sequence[float] = (0.0,),
        unit_distance: float = 1.0,
        translation_axis: str | Sequence[float] = (0.0, 0.0, -1.0),
        per_frame: bool = False,
        degrees: bool = True,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(angles, angle_ranges, distances, unit_distance, translation_axis, per_frame, "center",
                         degrees, layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        params = super().sample_params(x, generator, lengths)
        # (R_z R_y R_x)ᵀ = R_xᵀ R_yᵀ R_zᵀ: the coordinate transforms of eq. (2), in its order.
        params["matrix"] = params["matrix"].transpose(-1, -2).contiguous()
        return params

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t_len, v, m = x.shape
        if v != self.layout.num_joints:
            raise ValueError(f"ObservationCamera: layout {self.layout.name!r} has {self.layout.num_joints} joints, "
                             f"batch has V={v}")
        coords = x[:, :3]
        origin = coords[:, :, 0, self.layout.center, 0][:, :, None, None, None]
        mat, d = params["matrix"], params["translation"]
        if self.per_frame:
            moved = torch.einsum("ntij,njtvm->nitvm", mat, coords - origin - d.permute(0, 2, 1)[:, :, :, None, None])
        else:
            shifted = (coords - origin - d[:, :, None, None, None]).reshape(n, 3, -1)
            moved = torch.bmm(mat, shifted).view(coords.shape)
        length = resolve_lengths(lengths, x)
        present = (coords != 0).any(dim=1).any(dim=2)  # (N, T, M)
        present = present & (torch.arange(t_len, device=x.device)[None, :, None] < length[:, None, None])
        out = torch.where(present[:, None, :, None, :], moved, coords)
        return out if c == 3 else torch.cat([out, x[:, 3:]], dim=1)

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        del config["pivot"]
        return config
