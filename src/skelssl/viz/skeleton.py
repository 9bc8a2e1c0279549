"""Render skeleton sequences: animated GIF or a PNG strip of frames, drawn with the layout's bones.

One renderer for everything that wants to look at a sequence: a prepared
sample (``skelssl show``), an augmented or interpolated clip, or a per-joint
weighting such as an actionlet or an attention map (``weights``: one value per
joint, or per frame and joint, shown as the joints' colour on a colour bar).

Input is one sample ``(C, T, V)`` or ``(C, T, V, M)`` in the layout's
channels. Three-dimensional layouts (``x, y, z``; y up, as the Kinect
datasets store them) are shown from the front (x–y) and from the side (z–y);
two-dimensional ones (``x, y, score``, image coordinates) as the image,
y pointing down. Body slots that are all zero (no second person) and frames
past the valid ones (padding) are left out. Without weights, joints whose
name says ``left`` are blue, ``right`` red, the rest black, so a mirrored
skeleton is visible at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["SkeletonView", "prepare_sequence", "render_gif", "render_strip"]

_LEFT, _RIGHT, _CENTRE = "tab:blue", "tab:red", "black"


@dataclass
class SkeletonView:
    """A sequence ready to draw: ``joints`` ``(T, M, V, C)`` of the valid frames and present bodies."""

    joints: np.ndarray
    layout: SkeletonLayout
    frames: np.ndarray  # the original frame index of each row of ``joints``
    weights: np.ndarray | None  # (T, V) over the kept frames, or None
    three_d: bool

    @property
    def panels(self) -> list[tuple[str, int, int]]:
        """``(title, horizontal channel, vertical channel)`` per panel."""
        if self.three_d:
            return [("front (x-y)", 0, 1), ("side (z-y)", 2, 1)]
        return [("image (x-y)", 0, 1)]


def prepare_sequence(x: Any, layout: str | SkeletonLayout, *, valid_frames: int | None = None,
                     weights: Any = None) -> SkeletonView:
    """Check and trim one sample for drawing (see the module docstring for what is left out).

    ``weights``: ``(V,)`` (the same every frame) or ``(T, V)`` over the
    sample's frames; any real numbers (scaled to the colour bar's range).
    """
    lay = layout if isinstance(layout, SkeletonLayout) else get_layout(layout)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"a sample must be (C, T, V) or (C, T, V, M), got shape {arr.shape}")
    c, t, v, _ = arr.shape
    if v != lay.num_joints:
        raise ValueError(f"the sample has {v} joints but layout {lay.name} has {lay.num_joints}")
    if c != len(lay.channels):
        raise ValueError(f"the sample has {c} channels but layout {lay.name} has {len(lay.channels)} "
                         f"({', '.join(lay.channels)})")
    joints = arr.transpose(1, 3, 2, 0)  # (T, M, V, C)
    coords = joints[..., :3] if c >= 3 and lay.channels[2] == "z" else joints[..., :2]
    present = np.abs(coords).reshape(t, -1, v * coords.shape[-1]).sum(axis=(0, 2)) > 0
    if not present.any():
        raise ValueError("the sample holds no body (every coordinate is zero)")
    frames = np.arange(t if valid_frames is None else max(1, min(int(valid_frames), t)))
    # Trailing all-zero frames are padding, whatever valid_frames says.
    nonzero = np.flatnonzero(np.abs(coords[frames]).sum(axis=(1, 2, 3)) > 0)
    frames = frames[: nonzero[-1] + 1] if nonzero.size else frames[:1]
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape == (v,):
            w = np.broadcast_to(w, (t, v))
        if w.shape != (t, v):
            raise ValueError(f"weights must be ({v},) or ({t}, {v}) for this sample, got {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("weights hold NaN or inf")
        w = w[frames]
    three_d = c >= 3 and tuple(lay.channels[:3]) == ("x", "y", "z")
    return SkeletonView(joints[frames][:, present], lay, frames, w, three_d)


def _joint_colours(layout: SkeletonLayout) -> list[str]:
    out = []
    for name in layout.joint_names:
        low = name.lower()
        out.append(_LEFT if "left" in low else _RIGHT if "right" in low else _CENTRE)
    return out


def _limits(view: SkeletonView, h: int, k: int) -> tuple[tuple[float, float], tuple[float, float]]:
    pts = view.joints[..., [h, k]].reshape(-1, 2)
    pts = pts[np.abs(pts).sum(axis=1) > 0]  # missing joints at the origin would stretch the box
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.08, 1e-3)
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)


class _Drawing:
    """One figure with a panel per view; ``show(i)`` puts frame ``i`` of the view into it."""

    def __init__(self, view: SkeletonView, *, title: str | None, columns: Sequence[int] | None = None,
                 cmap: str = "viridis", figsize: tuple[float, float] | None = None) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import Normalize

        self.view = view
        self.plt = plt
        self.columns = list(columns) if columns is not None else [None]  # None: the animated frame
        panels = view.panels
        ncols = len(self.columns) * len(panels)
        size = figsize or (max(3.0 * ncols, 4.0) + (0.8 if view.weights is not None else 0), 3.6)
        self.fig, axes = plt.subplots(1, ncols, figsize=size, squeeze=False, layout="constrained")
        self.axes = axes[0]
        self.norm = None
        if view.weights is not None:
            lo, hi = float(view.weights.min()), float(view.weights.max())
            self.norm = Normalize(lo, hi if hi > lo else lo + 1e-9)
        self.cmap = plt.get_cmap(cmap)
        self.colours = _joint_colours(view.layout)
        self.artists: list[tuple[Any, list[Any], list[Any], int, int, Any]] = []
        for col_index, _ in enumerate(self.columns):
            for p_index, (name, h, k) in enumerate(panels):
                ax = self.axes[col_index * len(panels) + p_index]
                xlim, ylim = _limits(view, h, k)
                ax.set_xlim(*xlim)
                ax.set_ylim(*(ylim if view.three_d else ylim[::-1]))  # image y points down
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel(name, fontsize=8)
                bodies = view.joints.shape[1]
                lines = [[ax.plot([], [], "-", color="0.45", linewidth=2, solid_capstyle="round")[0]
                          for _ in view.layout.bones] for _ in range(bodies)]
                zeros = np.zeros(view.layout.num_joints)
                colour = dict(c=self.colours) if self.norm is None else dict(c=zeros, cmap=self.cmap, norm=self.norm)
                dots = [ax.scatter(zeros, zeros, s=18, zorder=3, edgecolors="white", linewidths=0.4, **colour)
                        for _ in range(bodies)]
                label = ax.text(0.02, 0.98, "", transform=ax.transAxes, va="top", fontsize=8)
                self.artists.append((ax, lines, dots, h, k, label))
        if self.norm is not None:
            from matplotlib.cm import ScalarMappable

            bar = self.fig.colorbar(ScalarMappable(self.norm, self.cmap), ax=list(self.axes), shrink=0.8)
            bar.set_label("joint weight", fontsize=8)
        if title:
            self.fig.suptitle(title, fontsize=9)

    def show(self, i: int, column: int = 0) -> None:
        view = self.view
        panels = len(view.panels)
        for ax, lines, dots, h, k, label in self.artists[column * panels:(column + 1) * panels]:
            for m in range(view.joints.shape[1]):
                pts = view.joints[i, m]
                seen = np.abs(pts[:, [h, k]]).sum(axis=1) > 0
                for line, (child, parent) in zip(lines[m], view.layout.bones):
                    if seen[child] and seen[parent]:
                        line.set_data([pts[child, h], pts[parent, h]], [pts[child, k], pts[parent, k]])
                    else:
                        line.set_data([], [])
                offsets = np.where(seen[:, None], pts[:, [h, k]], np.nan)
                dots[m].set_offsets(offsets)
                if self.norm is not None:
                    dots[m].set_array(view.weights[i])
            label.set_text(f"frame {int(view.frames[i]) + 1}")

    def close(self) -> None:
        self.plt.close(self.fig)


def render_gif(x: Any, layout: str | SkeletonLayout, out: str | Path, *, valid_frames: int | None = None,
               weights: Any = None, title: str | None = None, fps: float = 15.0, cmap: str = "viridis",
               dpi: int = 80) -> Path:
    """Write the sample as an animated GIF (one GIF frame per valid frame); returns ``out``."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    view = prepare_sequence(x, layout, valid_frames=valid_frames, weights=weights)
    drawing = _Drawing(view, title=title, cmap=cmap)
    try:
        animation = FuncAnimation(drawing.fig, lambda i: drawing.show(i), frames=len(view.frames), blit=False)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        animation.save(str(out), writer=PillowWriter(fps=fps), dpi=dpi)
    finally:
        drawing.close()
    return out


def render_strip(x: Any, layout: str | SkeletonLayout, out: str | Path, *, valid_frames: int | None = None,
                 weights: Any = None, title: str | None = None, num_frames: int = 8, cmap: str = "viridis",
                 dpi: int = 100) -> Path:
    """Write ``num_frames`` evenly spaced frames side by side as one PNG (front view only for 3-D data)."""
    view = prepare_sequence(x, layout, valid_frames=valid_frames, weights=weights)
    picks = np.unique(np.linspace(0, len(view.frames) - 1, max(1, int(num_frames))).round().astype(int))
    # One panel (the front or the image) per picked frame.
    drawing = _Drawing(_front_only(view), title=title, columns=picks.tolist(), cmap=cmap,
                       figsize=(1.7 * len(picks) + (0.8 if view.weights is not None else 0), 2.6))
    try:
        for column, i in enumerate(picks):
            drawing.show(int(i), column)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        drawing.fig.savefig(out, dpi=dpi)
    finally:
        drawing.close()
    return out


class _FrontView(SkeletonView):
    @property
    def panels(self) -> list[tuple[str, int, int]]:
        return [super().panels[0]]


def _front_only(view: SkeletonView) -> SkeletonView:
    return _FrontView(view.joints, view.layout, view.frames, view.weights, view.three_d)
