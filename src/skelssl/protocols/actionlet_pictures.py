"""Pictures of ActCLR's static anchor and actionlets: ``skelssl evaluate actionlet --run RUN``.

For a trained ActCLR run this draws, on the skeleton (camera x to the right,
y up, bones as lines):

* ``average_motion.png``: the average motion (the static anchor, eq. 2) at a
  few evenly spaced frames — it should barely move;
* ``actionlet.png``: a chosen sample at the same frames with every joint
  coloured by its difference activation (eq. 5, scaled to the sample's peak)
  and the actionlet's joints ringed, above a joints × frames map of the
  activation with the actionlet outlined;
* ``actionlet.gif``: the sample over time with the same colouring.

The actionlet is computed as in training (the offline encoder against the
stored average motion, :meth:`~skelssl.methods.actclr.ActCLR.actionlet`) with
the encoder in eval mode, on the sample's evenly spaced evaluation clip.
``protocol.part`` / ``protocol.sample`` choose the sample (its position in
that split part); ``results.json`` lists the joints most often in the actionlet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["draw_skeleton", "run_actionlet"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_skeleton(ax: Any, joints: np.ndarray, layout: Any, values: np.ndarray | None = None,
                  ring: np.ndarray | None = None, limits: tuple[float, float, float, float] | None = None,
                  cmap: str = "plasma") -> None:
    """One body ``(V, 3)`` on ``ax``: bones grey, joints coloured by ``values`` in [0, 1], ``ring`` ringed."""
    x, y = joints[:, 0], joints[:, 1]
    for a, b in layout.bones:
        ax.plot([x[a], x[b]], [y[a], y[b]], color="0.55", linewidth=1.5, zorder=1)
    if values is None:
        ax.scatter(x, y, color="tab:blue", s=28, edgecolors="none", zorder=2)
    else:
        ax.scatter(x, y, c=values, cmap=cmap, vmin=0.0, vmax=1.0, s=18 + 60 * values, edgecolors="none", zorder=2)
    if ring is not None and ring.any():
        ax.scatter(x[ring], y[ring], s=110, facecolors="none", edgecolors="black", linewidths=1.0, zorder=3)
    ax.set_aspect("equal")
    if limits is not None:
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
    ax.set_xticks([])
    ax.set_yticks([])


def _limits(clip: np.ndarray) -> tuple[float, float, float, float]:
    """Square x/y limits holding every non-zero joint of ``clip`` ``(T, V, 3)``."""
    pts = clip.reshape(-1, clip.shape[-1])
    pts = pts[np.abs(pts).sum(axis=1) > 0]
    if not len(pts):
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = pts[:, :2].min(axis=0), pts[:, :2].max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.1, 1e-3)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def _strip(path: Path, clip: np.ndarray, layout: Any, frames: list[int], title: str,
           values: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
    plt = _plt()
    rows = 2 if values is not None else 1
    fig = plt.figure(figsize=(2.2 * len(frames), 2.7 + (3.2 if values is not None else 0)))
    grid = fig.add_gridspec(rows, len(frames), height_ratios=[2.4, 3.2][:rows])
    lim = _limits(clip)
    for i, t in enumerate(frames):
        ax = fig.add_subplot(grid[0, i])
        draw_skeleton(ax, clip[t], layout, None if values is None else values[t],
                      None if mask is None else mask[t] > 0.5, lim)
        ax.set_title(f"frame {t}", fontsize=8)
    if values is not None:
        ax = fig.add_subplot(grid[1, :])
        ax.imshow(values.T, aspect="auto", cmap="plasma", vmin=0, vmax=1, interpolation="nearest")
        if mask is not None:
            ax.contour(mask.T, levels=[0.5], colors="white", linewidths=0.8)
        ax.set_yticks(range(layout.num_joints), layout.joint_names, fontsize=5)
        ax.set_xlabel("frame", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _gif(path: Path, clip: np.ndarray, layout: Any, values: np.ndarray, mask: np.ndarray, title: str,
         fps: int) -> None:
    plt = _plt()
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(3.6, 3.8))
    lim = _limits(clip)

    def frame(t: int) -> list:
        ax.clear()
        draw_skeleton(ax, clip[t], layout, values[t], mask[t] > 0.5, lim)
        ax.set_title(f"{title}\nframe {t}", fontsize=8)
        return []

    anim = FuncAnimation(fig, frame, frames=len(clip), blit=False)
    anim.save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)


def run_actionlet(method: Any, dataset: Any, cfg: Any, out_dir: str | Path, *, context: Any,
                  class_names: list[str] | None = None) -> dict[str, Any]:
    """Draw the anchor and the actionlet of ``dataset``'s sample ``protocol.sample``; write ``results.json``."""
    from skelssl.data.canonical import atomic_write_text
    from skelssl.methods.actclr import ActCLR

    if not isinstance(method, ActCLR):
        raise ValueError(f"the actionlet pictures need an ActCLR run, got method {type(method).__name__}")
    p = cfg.protocol
    position = int(p.get("sample", 0))
    if not 0 <= position < len(dataset):
        raise ValueError(f"protocol.sample={position} outside 0..{len(dataset) - 1} (the {p.get('part', 'test')} part)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, label, index = dataset[position]
    layout = method.layout
    method.eval()
    with torch.no_grad():
        activation, mask = method.actionlet(x[None].to(method.average_motion.device))
    body = 0
    values = activation[0, :, :, body].cpu().numpy()
    inside = mask[0, :, :, body].cpu().numpy()
    clip = x[:, :, :, body].permute(1, 2, 0).numpy()
    average = method.average_motion[:, :, :, body].permute(1, 2, 0).cpu().numpy()
    steps = int(p.get("frames", 6))
    frames = sorted({int(round(t)) for t in np.linspace(0, clip.shape[0] - 1, steps)})
    name = class_names[label] if class_names and 0 <= label < len(class_names) else str(label)
    _strip(out / "average_motion.png", average, layout, frames, "average motion (the static anchor)")
    _strip(out / "actionlet.png", clip, layout, frames, f"actionlet of sample {index} ({name})", values, inside)
    _gif(out / "actionlet.gif", clip, layout, values, inside, f"sample {index} ({name})", int(p.get("fps", 10)))
    share = inside.mean(axis=0)
    order = np.argsort(-share)
    results = {
        "sample_index": int(index), "label": int(label), "class_name": name,
        "actionlet_share": float(inside.mean()),
        "joints_by_share": [{"joint": layout.joint_names[j], "share": round(float(share[j]), 3)} for j in order],
        "pictures": ["average_motion.png", "actionlet.png", "actionlet.gif"],
        **context.to_json(),
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    return results
