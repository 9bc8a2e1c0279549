"""Skeleton layouts: joint names, bones, centre, mirror pairs and semantic roles.

A layout is *data*: every graph, view, recipe and augmentation reads it instead
of branching on the dataset name, so a user can add a new sensor with one call
to :func:`register_layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SkeletonLayout",
    "register_layout",
    "get_layout",
    "list_layouts",
    "layout_from_spec",
    "register_or_reuse",
    "LAYOUT_KEYS",
]

# Keys of a layout written as a plain mapping (dataset.json's inline layouts, info.json's layout_spec).
LAYOUT_KEYS = ("name", "joint_names", "bones", "center", "mirror_pairs", "channels", "roles", "extra_edges",
               "description")
_REQUIRED_KEYS = ("name", "joint_names", "bones", "center")


@dataclass(frozen=True)
class SkeletonLayout:
    """A skeleton definition.

    ``bones`` are ``(child, parent)`` pairs, 0-based; together they form a tree
    rooted at ``center`` (the root has no bone, so its bone vector is zero).
    ``roles`` names the joints that recipes need (``spine_base``,
    ``spine_shoulder``, ``left_shoulder`` …) so recipes work on every layout
    that defines them.
    """

    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    center: int
    mirror_pairs: tuple[tuple[int, int], ...]
    channels: tuple[str, ...] = ("x", "y", "z")
    roles: dict[str, int] = field(default_factory=dict)
    # Extra undirected edges used only by the graph (not by the bone view), for
    # layouts whose published graph differs from their bone tree.
    extra_edges: tuple[tuple[int, int], ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        v = len(self.joint_names)
        if not 0 <= self.center < v:
            raise ValueError(f"layout {self.name!r}: centre {self.center} out of range 0..{v - 1}")
        children = [c for c, _ in self.bones]
        if len(set(children)) != len(children):
            raise ValueError(f"layout {self.name!r}: a joint has two parents")
        for c, p in (*self.bones, *self.mirror_pairs, *self.extra_edges):
            if not (0 <= c < v and 0 <= p < v):
                raise ValueError(f"layout {self.name!r}: pair ({c}, {p}) out of range 0..{v - 1}")
        if self.center in children:
            raise ValueError(f"layout {self.name!r}: the centre joint must be the root of the bone tree")
        if len(self.bones) != v - 1:
            raise ValueError(f"layout {self.name!r}: {len(self.bones)} bones for {v} joints; a tree needs {v - 1}")
        for role, j in self.roles.items():
            if not 0 <= j < v:
                raise ValueError(f"layout {self.name!r}: role {role!r} -> {j} out of range")
        # The parent array must reach the root from every joint (no cycles).
        parents = self.parents
        for j in range(v):
            seen = 0
            k = j
            while k != self.center:
                k = int(parents[k])
                seen += 1
                if seen > v:
                    raise ValueError(f"layout {self.name!r}: joint {j} does not reach the centre")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def parents(self) -> np.ndarray:
        """``parents[v]`` is the parent of joint v; the centre is its own parent."""
        p = np.arange(self.num_joints)
        for c, par in self.bones:
            p[c] = par
        return p

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Undirected graph edges: the bones plus any ``extra_edges``."""
        return tuple(self.bones) + tuple(self.extra_edges)

    @property
    def mirror_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints (for spatial flips)."""
        perm = np.arange(self.num_joints)
        for a, b in self.mirror_pairs:
            perm[a], perm[b] = b, a
        return perm

    def role(self, name: str) -> int:
        try:
            return self.roles[name]
        except KeyError:
            raise KeyError(
                f"layout {self.name!r} defines no joint for role {name!r}; it has {sorted(self.roles)}"
            ) from None

    def joint(self, name: str) -> int:
        return self.joint_names.index(name)

    def to_dict(self) -> dict:
        """The whole definition as JSON-able data; :func:`layout_from_spec` reads it back."""
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "bones": [list(b) for b in self.bones],
            "center": self.center,
            "mirror_pairs": [list(p) for p in self.mirror_pairs],
            "channels": list(self.channels),
            "roles": dict(self.roles),
            "extra_edges": [list(e) for e in self.extra_edges],
            "description": self.description,
        }


_LAYOUTS: dict[str, SkeletonLayout] = {}


def register_layout(layout: SkeletonLayout, *, overwrite: bool = False) -> SkeletonLayout:
    if layout.name in _LAYOUTS and not overwrite:
        raise ValueError(f"layout {layout.name!r} is already registered")
    _LAYOUTS[layout.name] = layout
    return layout


def get_layout(name: str | SkeletonLayout) -> SkeletonLayout:
    if isinstance(name, SkeletonLayout):
        return name
    try:
        return _LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; known: {sorted(_LAYOUTS)}") from None


def list_layouts() -> list[str]:
    return sorted(_LAYOUTS)


def _pairs(value, key: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key!r} must be a list of [a, b] pairs, got {value!r}")
    out = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(_is_int(v) for v in pair):
            raise ValueError(f"{key!r} must hold [a, b] pairs of integers, got {pair!r}")
        out.append((int(pair[0]), int(pair[1])))
    return tuple(out)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def layout_from_spec(spec: dict) -> SkeletonLayout:
    """A :class:`SkeletonLayout` from its plain-data form (see ``docs/own-data.md``); ``ValueError`` if invalid."""
    if not isinstance(spec, dict):
        raise ValueError(f"a layout definition must be an object, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(LAYOUT_KEYS))
    missing = [k for k in _REQUIRED_KEYS if k not in spec]
    if unknown or missing:
        raise ValueError(f"layout definition: unknown keys {unknown}, missing keys {missing}")
    names, channels, roles = spec["joint_names"], spec.get("channels", ("x", "y", "z")), spec.get("roles", {})
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names) or not names:
        raise ValueError("'joint_names' must be a non-empty list of strings")
    if not isinstance(channels, (list, tuple)) or not all(isinstance(c, str) for c in channels) or not channels:
        raise ValueError("'channels' must be a non-empty list of strings")
    if not isinstance(roles, dict) or not all(isinstance(k, str) and _is_int(v) for k, v in roles.items()):
        raise ValueError("'roles' must map role names to joint indices")
    if not _is_int(spec["center"]):
        raise ValueError(f"'center' must be a joint index, got {spec['center']!r}")
    return SkeletonLayout(
        name=str(spec["name"]),
        joint_names=tuple(names),
        bones=_pairs(spec["bones"], "bones"),
        center=int(spec["center"]),
        mirror_pairs=_pairs(spec.get("mirror_pairs", ()), "mirror_pairs"),
        channels=tuple(channels),
        roles={k: int(v) for k, v in roles.items()},
        extra_edges=_pairs(spec.get("extra_edges", ()), "extra_edges"),
        description=str(spec.get("description", "")),
    )


def register_or_reuse(layout: SkeletonLayout) -> SkeletonLayout:
    """Register ``layout``, or return the registered one if it is identical.

    A *different* definition under a registered name raises ``ValueError``:
    silently using either would give the data the wrong bones or roles.
    """
    existing = _LAYOUTS.get(layout.name)
    if existing is None:
        return register_layout(layout)
    if existing != layout:
        differ = [k for k in LAYOUT_KEYS if getattr(existing, k) != getattr(layout, k)]
        raise ValueError(f"layout {layout.name!r} is already registered with a different definition "
                         f"(differs in {', '.join(differ)}); rename one of them")
    return existing


def _one_based(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


# Kinect v2, 25 joints (NTU RGB+D 60/120, PKU-MMD). Joint order of the Kinect SDK.
NTU25 = register_layout(
    SkeletonLayout(
        name="ntu25",
        joint_names=(
            "spine_base", "spine_mid", "neck", "head",
            "shoulder_left", "elbow_left", "wrist_left", "hand_left",
            "shoulder_right", "elbow_right", "wrist_right", "hand_right",
            "hip_left", "knee_left", "ankle_left", "foot_left",
            "hip_right", "knee_right", "ankle_right", "foot_right",
            "spine_shoulder", "hand_tip_left", "thumb_left", "hand_tip_right", "thumb_right",
        ),
        # The field's (ST-GCN / 2s-AGCN) bone list, including its quirk that the
        # hand tip hangs off the thumb (22 -> 23 -> 8) rather than off the hand;
        # kept so bone views and graphs match published numbers.
        bones=_one_based([
            (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7),
            (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15),
            (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
        ]),
        center=20,
        mirror_pairs=_one_based([
            (5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
            (22, 24), (23, 25),
        ]),
        roles={
            "spine_base": 0, "spine_mid": 1, "neck": 2, "head": 3,
            "spine_shoulder": 20, "left_shoulder": 4, "right_shoulder": 8,
            "left_hip": 12, "right_hip": 16, "left_hand": 7, "right_hand": 11,
            "left_foot": 15, "right_foot": 19,
        },
        description="Kinect v2 (NTU RGB+D 60/120, PKU-MMD)",
    )
)

# Kinect v1, 20 joints (N-UCLA, UTKinect, UTD-MHAD; MSR Action3D after reordering).
KINECT20 = register_layout(
    SkeletonLayout(
        name="kinect20",
        joint_names=(
            "hip_center", "spine", "shoulder_center", "head",
            "shoulder_left", "elbow_left", "wrist_left", "hand_left",
            "shoulder_right", "elbow_right", "wrist_right", "hand_right",
            "hip_left", "knee_left", "ankle_left", "foot_left",
            "hip_right", "knee_right", "ankle_right", "foot_right",
        ),
        bones=_one_based([
            (1, 2), (2, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9),
            (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
            (19, 18), (20, 19),
        ]),
        center=2,
        mirror_pairs=_one_based([
            (5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
        ]),
        roles={
            "spine_base": 0, "spine_mid": 1, "neck": 2, "spine_shoulder": 2, "head": 3,
            "left_shoulder": 4, "right_shoulder": 8, "left_hip": 12, "right_hip": 16,
            "left_hand": 7, "right_hand": 11, "left_foot": 15, "right_foot": 19,
        },
        description="Kinect v1 (N-UCLA, MSR Action3D, UTKinect, UTD-MHAD)",
    )
)

# OpenPose COCO-18 (Kinetics-skeleton from the ST-GCN release): 2D + confidence.
OPENPOSE18 = register_layout(
    SkeletonLayout(
        name="openpose18",
        joint_names=(
            "nose", "neck", "shoulder_right", "elbow_right", "wrist_right",
            "shoulder_left", "elbow_left", "wrist_left", "hip_right", "knee_right",
            "ankle_right", "hip_left", "knee_left", "ankle_left", "eye_right",
            "eye_left", "ear_right", "ear_left",
        ),
        bones=(
            (0, 1), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8),
            (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15),
        ),
        center=1,
        mirror_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
        channels=("x", "y", "score"),
        roles={
            "neck": 1, "spine_shoulder": 1, "head": 0, "left_shoulder": 5, "right_shoulder": 2,
            "left_hip": 11, "right_hip": 8, "left_hand": 7, "right_hand": 4,
            "left_foot": 13, "right_foot": 10,
        },
        description="OpenPose COCO-18 (Kinetics-skeleton), channels x, y, score",
    )
)
