"""Joint mappings between skeleton layouts, for transfer across datasets (``kinect20`` ⊂ ``ntu25``).

An encoder pretrained on layout A (say NTU's 25-joint ``ntu25``) can be
evaluated on data of layout B (N-UCLA's 20-joint ``kinect20``) once B's joints
are put where A expects them. :func:`joint_mapping` builds that map as a
matrix ``W`` ``(V_A, V_B)``, so ``x_A[..., a, :] = Σ_b W[a, b] x_B[..., b, :]``:

1. **Same joint.** Joints are matched by name, after the aliases of
   :data:`JOINT_ALIASES` (Kinect v1's ``hip_center`` is Kinect v2's
   ``spine_base``, ``spine`` is ``spine_mid``, ``shoulder_center`` is
   ``spine_shoulder`` — the same correspondence the synthetic generator uses,
   ``KINECT20_FROM_NTU25``). A matched joint is copied.
2. **Filled from neighbours.** A joint of A that B lacks is the mean of its
   neighbours in A's skeleton graph that are already known, filled outwards
   from the matched joints (breadth first). ``kinect20 → ntu25``: ``neck`` =
   mean of ``spine_shoulder`` and ``head``; ``thumb_left`` = ``hand_left``, then
   ``hand_tip_left`` = ``thumb_left`` (= ``hand_left``), likewise on the right.
3. Joints of B that A has no place for are dropped (``ntu25 → kinect20``
   keeps the 20 shared joints: a selection).

The map is linear, so it commutes with the motion view and is applied to the
joint coordinates before the encoder converts them to its view.
:class:`LayoutAdapter` applies it batched (one ``einsum``); every evaluation
protocol puts it in front of the encoder when the evaluation data's layout
differs from the pretraining data's (``skelssl evaluate ... --data OTHER``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["JOINT_ALIASES", "joint_mapping", "LayoutAdapter"]

# Kinect v1 name -> the Kinect v2 name of the same body point.
JOINT_ALIASES: dict[str, str] = {
    "hip_center": "spine_base",
    "spine": "spine_mid",
    "shoulder_center": "spine_shoulder",
}


def _canonical(name: str) -> str:
    return JOINT_ALIASES.get(name, name)


def joint_mapping(source: str | SkeletonLayout, target: str | SkeletonLayout) -> tuple[Tensor, dict[str, Any]]:
    """``(W, report)``: ``W`` ``(V_target, V_source)`` maps source-layout joints to the target layout.

    ``report`` says which target joints were copied (``{target: source}``) and
    which were filled (``{target: [source joints averaged]}``), and which
    source joints were dropped. A target joint that cannot be reached from a
    matched joint, or layouts with different coordinate channels, are an error.
    """
    src, tgt = get_layout(source), get_layout(target)
    if tuple(src.channels) != tuple(tgt.channels):
        raise ValueError(f"layouts {src.name!r} ({', '.join(src.channels)}) and {tgt.name!r} "
                         f"({', '.join(tgt.channels)}) have different coordinate channels; no joint mapping")
    by_name = {_canonical(n): i for i, n in enumerate(src.joint_names)}
    v_t = tgt.num_joints
    w = torch.zeros(v_t, src.num_joints, dtype=torch.float64)
    known: dict[int, None] = {}
    copied: dict[str, str] = {}
    for a, name in enumerate(tgt.joint_names):
        b = by_name.get(_canonical(name))
        if b is not None:
            w[a, b] = 1.0
            known[a] = None
            copied[name] = src.joint_names[b]
    if not known:
        raise ValueError(f"layouts {src.name!r} and {tgt.name!r} share no joint (by name or alias); no joint mapping")
    neighbours: dict[int, set[int]] = {a: set() for a in range(v_t)}
    for a, b in tgt.edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    filled: dict[str, list[str]] = {}
    frontier = [a for a in range(v_t) if a not in known]
    while frontier:
        # One breadth-first ring at a time: a joint is filled from the joints known before this ring.
        ring = [a for a in frontier if neighbours[a] & set(known)]
        if not ring:
            missing = ", ".join(tgt.joint_names[a] for a in frontier)
            raise ValueError(f"{tgt.name!r} joints {missing} have no path to a joint {src.name!r} has")
        rows = {a: [n for n in sorted(neighbours[a]) if n in known] for a in ring}
        for a, ns in rows.items():
            w[a] = torch.stack([w[n] for n in ns]).mean(dim=0)
            filled[tgt.joint_names[a]] = sorted({src.joint_names[b] for b in torch.nonzero(w[a]).flatten().tolist()})
        for a in ring:
            known[a] = None
        frontier = [a for a in frontier if a not in known]
    used = set(torch.nonzero(w.abs().sum(dim=0)).flatten().tolist())
    dropped = [src.joint_names[b] for b in range(src.num_joints) if b not in used]
    report = {"source": src.name, "target": tgt.name, "copied": copied, "filled": filled, "dropped": dropped}
    return w.float(), report


class LayoutAdapter(nn.Module):
    """``(N, C, T, V_source, M)`` joint coordinates → ``(N, C, T, V_target, M)`` through :func:`joint_mapping`.

    Wraps an encoder when given one: ``LayoutAdapter(src, tgt, encoder)(x) == encoder(adapt(x))``, and
    keeps the encoder's ``feature_dim`` and ``input_view``.
    """

    def __init__(self, source: str | SkeletonLayout, target: str | SkeletonLayout,
                 encoder: nn.Module | None = None) -> None:
        super().__init__()
        weight, self.report = joint_mapping(source, target)
        self.register_buffer("weight", weight, persistent=False)
        self.encoder = encoder
        if encoder is not None:
            self.feature_dim = getattr(encoder, "feature_dim", None)
            if hasattr(encoder, "input_view"):
                self.input_view = encoder.input_view

    def adapt(self, x: Tensor) -> Tensor:
        if x.shape[3] != self.weight.shape[1]:
            raise ValueError(f"expected {self.weight.shape[1]} joints ({self.report['source']}), got {x.shape[3]}")
        return torch.einsum("ab,nctbm->nctam", self.weight.to(x.dtype), x)

    def forward(self, x: Tensor) -> Tensor:
        y = self.adapt(x)
        return y if self.encoder is None else self.encoder(y)

    def extra_repr(self) -> str:
        return f"{self.report['source']} -> {self.report['target']}, filled={sorted(self.report['filled'])}"
