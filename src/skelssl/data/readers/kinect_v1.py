"""Kinect v1 datasets read straight into the ``kinect20`` layout: MSR Action3D, UTD-MHAD, UTKinect-Action3D.

Each release stores the same 20 Kinect v1 joints in its own order; these
readers reorder them to ``kinect20`` (the Kinect SDK order: hip_center, spine,
shoulder_center, head, shoulder/elbow/wrist/hand left, the same right,
hip/knee/ankle/foot left, the same right). The native orders, with their
sources, are below and in ``docs/own-data.md``; ``tests/test_kinect_v1.py``
checks every mapping on hand-made files.

* ``msr_action3d`` (Li, Zhang, Liu, CVPRW 2010): ``aXX_sYY_eZZ_skeleton3D.txt``,
  20 lines of ``x y z confidence`` per frame (the real-world-coordinate
  release; the screen-coordinate ``*_skeleton.txt`` files are not read). The
  joint order is the one of Vemulapalli et al.'s Lie-group code (CVPR 2014),
  whose ``process_skeletal_data.m`` reorders UTKinect's Kinect-SDK joints into
  it with ``joints_order = [5 9 3 2 13 17 1 6 10 7 11 8 12 14 18 15 19 16 20 4]``.
  Protocol ``xsub``: subjects 1, 3, 5, 7, 9 train, the others test (Li et al.).
* ``utd_mhad`` (Chen, Jafari, Kehtarnavaz, ICIP 2015): ``aA_sS_tT_skeleton.mat``
  holding ``d_skel`` of shape (20, 3, T) in the dataset's documented order
  (head, shoulder_center, spine, hip_center, then the SDK's limbs). Protocol
  ``xsub``: subjects 1, 3, 5, 7 train, 2, 4, 6, 8 test (Chen et al.).
* ``utkinect`` (Xia, Chen, Aggarwal, CVPRW 2012): ``joints_sXX_eYY.txt``, one
  line per frame: the frame number and 20 x 3 coordinates in the SDK's order
  (identity mapping), and ``actionLabel.txt`` giving each sequence's ten actions
  as ``action: first_frame last_frame`` (frame numbers, inclusive; ``NaN`` marks
  an action that was not annotated: left out and counted, ``unannotated``).
  One sample per annotated action. Protocol ``xsub``: odd subjects train, even
  subjects test (the papers' leave-one-sequence-out and averaged random halves
  are not built in).

All three are single-person: prepare them with ``--recipe-option num_bodies=1``.
Coordinates are taken as metres and checked (reader option ``units``:
``m``, ``cm`` or ``mm`` declares them instead). A frame whose joints are all
zero holds no body.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelssl.data.files import read_file_bytes, read_text_file, sorted_files, walk_files
from skelssl.data.layouts import KINECT20
from skelssl.data.readers.base import DatasetReader, ReadResult, Split, register_reader
from skelssl.data.readers.pkummd import parse_number_rows
from skelssl.data.types import UNITS, RawSequence, SkeletonFileError, check_finite, to_metres

__all__ = [
    "MSR_ACTION3D_JOINTS",
    "UTD_MHAD_JOINTS",
    "UTKINECT_JOINTS",
    "to_kinect20_order",
    "MSRAction3DReader",
    "UTDMHADReader",
    "UTKinectReader",
]

NUM_JOINTS = 20

# Native joint orders, named with kinect20's joint names.
MSR_ACTION3D_JOINTS = (
    "shoulder_left", "shoulder_right", "shoulder_center", "spine", "hip_left", "hip_right", "hip_center",
    "elbow_left", "elbow_right", "wrist_left", "wrist_right", "hand_left", "hand_right", "knee_left", "knee_right",
    "ankle_left", "ankle_right", "foot_left", "foot_right", "head",
)
UTD_MHAD_JOINTS = (
    "head", "shoulder_center", "spine", "hip_center", "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right", "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)
UTKINECT_JOINTS = KINECT20.joint_names


def to_kinect20_order(native: tuple[str, ...]) -> np.ndarray:
    """Index array ``idx`` with ``joints[..., idx, :]`` in kinect20 order for joints stored in ``native`` order."""
    if sorted(native) != sorted(KINECT20.joint_names):
        raise ValueError(f"a native order must name each of the 20 kinect20 joints once, got {native}")
    return np.array([native.index(name) for name in KINECT20.joint_names], dtype=np.int64)


class _KinectV1Reader(DatasetReader):
    layout = "kinect20"
    default_recipe = "crossclr"
    known_options = ("units",)
    native_joints: tuple[str, ...] = KINECT20.joint_names
    train_subjects: tuple[int, ...] = ()

    def __init__(self, **options) -> None:
        super().__init__(**options)
        units = options.get("units")
        if units is not None and units not in UNITS:
            raise ValueError(f"reader option units of {self.name} must be one of {', '.join(UNITS)}, got {units!r}")
        self._order = to_kinect20_order(self.native_joints)

    def _sequence(self, path: Path, sample_id: str, joints: np.ndarray, *, label: int, subject: int,
                  replication: int, units: str | None = None) -> RawSequence:
        """A one-body sequence from native-order ``joints`` (T, 20, 3): finite, in metres, reordered.

        ``units`` overrides the reader option (for joints already converted).
        """
        check_finite(path, joints)
        units = units if units is not None else self.options.get("units")
        joints = to_metres(path, joints, units, hint="pass --reader-option units=mm (or cm)")
        joints = np.ascontiguousarray(joints[:, self._order], dtype=np.float32)
        present = joints.any(axis=(1, 2))
        if not present.any():
            raise SkeletonFileError(path, f"sample {sample_id}: every joint of the {len(joints)} frames is zero",
                                    reason="empty")
        return RawSequence(sample_id=sample_id, joints=joints[None], present=present[None], label=label,
                           subject=subject, replication=replication, layout=self.layout, source=str(path))

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        subject = np.asarray(meta["subject"])
        idx = np.arange(len(subject))
        train = np.isin(subject, self.train_subjects)
        return {"xsub": {"train": idx[train], "test": idx[~train]}}


def _name_fields(path: Path, pattern: re.Pattern, what: str) -> tuple[int, ...]:
    match = pattern.fullmatch(path.name)
    if not match:
        raise SkeletonFileError(path, f"file name is not {what}", reason="bad_name")
    return tuple(int(g) for g in match.groups())


@register_reader("msr_action3d")
class MSRAction3DReader(_KinectV1Reader):
    """MSR Action3D real-world skeletons (``*_skeleton3D.txt``), 20 actions, 10 subjects; see the module docstring."""

    native_joints = MSR_ACTION3D_JOINTS
    train_subjects = (1, 3, 5, 7, 9)
    expected_files = "aXX_sYY_eZZ_skeleton3D.txt files (the real-world skeletons; any folder depth under --raw)"
    class_names = (
        "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw", "draw x",
        "draw tick", "draw circle", "hand clap", "two hand wave", "side-boxing", "bend", "forward kick", "side kick",
        "jogging", "tennis swing", "tennis serve", "golf swing", "pick up & throw",
    )
    _NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_skeleton3D\.txt")

    def discover(self, raw_dir: Path) -> list[str]:
        return sorted_files(raw_dir, ["a*_s*_e*_skeleton3D.txt"])

    def read(self, item: str) -> list[RawSequence]:
        path = Path(item)
        action, subject, repetition = _name_fields(path, self._NAME, "aXX_sYY_eZZ_skeleton3D.txt")
        if not 1 <= action <= len(self.class_names):
            raise SkeletonFileError(path, f"action a{action:02d} outside a01..a20", reason="bad_label")
        rows = parse_number_rows(path, read_file_bytes(path), 4)
        if len(rows) % NUM_JOINTS:
            raise SkeletonFileError(path, f"{len(rows)} joint lines is not a whole number of 20-joint frames "
                                    "(file cut short?)", reason="truncated")
        joints = rows[:, :3].reshape(-1, NUM_JOINTS, 3)
        return [self._sequence(path, path.name[: -len("_skeleton3D.txt")], joints, label=action - 1,
                               subject=subject, replication=repetition)]


@register_reader("utd_mhad")
class UTDMHADReader(_KinectV1Reader):
    """UTD-MHAD skeletons (``*_skeleton.mat``, variable ``d_skel``), 27 actions, 8 subjects (see the module)."""

    native_joints = UTD_MHAD_JOINTS
    train_subjects = (1, 3, 5, 7)
    expected_files = "aA_sS_tT_skeleton.mat files (any folder depth under --raw)"
    class_names = (
        "right arm swipe to the left", "right arm swipe to the right", "right hand wave", "two hand front clap",
        "right arm throw", "cross arms in the chest", "basketball shoot", "right hand draw x",
        "right hand draw circle (clockwise)", "right hand draw circle (counter clockwise)", "draw triangle",
        "bowling (right hand)", "front boxing", "baseball swing from right", "tennis right hand forehand swing",
        "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
        "right hand catch an object", "right hand pick up and throw", "jogging in place", "walking in place",
        "sit to stand", "stand to sit", "forward lunge (left foot forward)", "squat (two arms stretch out)",
    )
    _NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")

    def discover(self, raw_dir: Path) -> list[str]:
        return sorted_files(raw_dir, ["a*_s*_t*_skeleton.mat"])

    def read(self, item: str) -> list[RawSequence]:
        import io

        from scipy.io import loadmat

        path = Path(item)
        action, subject, trial = _name_fields(path, self._NAME, "aA_sS_tT_skeleton.mat")
        if not 1 <= action <= len(self.class_names):
            raise SkeletonFileError(path, f"action a{action} outside a1..a{len(self.class_names)}", reason="bad_label")
        data = read_file_bytes(path)
        try:
            mat = loadmat(io.BytesIO(data), variable_names=["d_skel"])
        except Exception as err:  # noqa: BLE001 - scipy's MATLAB parser documents no exception set
            raise SkeletonFileError(path, f"not a readable MATLAB v5 .mat file ({type(err).__name__}: "
                                    f"{' '.join(str(err).split())[:120]})", reason="malformed") from None
        if "d_skel" not in mat:
            raise SkeletonFileError(path, "no variable 'd_skel' in the .mat file", reason="malformed")
        skel = mat["d_skel"]
        if not isinstance(skel, np.ndarray) or skel.dtype.kind not in "biuf":
            raise SkeletonFileError(path, "'d_skel' is not a numeric array", reason="malformed")
        if skel.ndim == 2 and skel.shape == (NUM_JOINTS, 3):
            skel = skel[:, :, None]  # MATLAB drops a trailing singleton frame axis
        if skel.ndim != 3 or skel.shape[:2] != (NUM_JOINTS, 3) or skel.shape[2] == 0:
            raise SkeletonFileError(path, f"'d_skel' must be 20 x 3 x T, got {' x '.join(map(str, skel.shape))}",
                                    reason="wrong_joint_count" if skel.ndim == 3 and skel.shape[2] else "malformed")
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: reported later
            joints = np.asarray(skel, dtype=np.float32).transpose(2, 0, 1)
        return [self._sequence(path, path.name[: -len("_skeleton.mat")], joints, label=action - 1, subject=subject,
                               replication=trial)]


@register_reader("utkinect")
class UTKinectReader(_KinectV1Reader):
    """UTKinect-Action3D (``joints_sXX_eYY.txt`` + ``actionLabel.txt``), 10 actions; see the module docstring."""

    native_joints = UTKINECT_JOINTS
    train_subjects = (1, 3, 5, 7, 9)
    expected_files = "joints_sXX_eYY.txt files and actionLabel.txt (any folder depth under --raw)"
    class_names = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands", "clapHands")
    _NAME = re.compile(r"joints_s(\d+)_e(\d+)\.txt")
    _BLOCK = re.compile(r"s(\d+)_e(\d+)")
    _ROW = re.compile(r"(\w+)\s*:\s*(\S+)\s+(\S+)")

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._labels: dict[str, list[tuple[str, int | None, int | None, int]]] | None = None

    def bind(self, raw_dir: str | Path | None) -> None:
        super().bind(raw_dir)
        self._labels = None

    def discover(self, raw_dir: Path) -> list[str]:
        self.bind(raw_dir)
        self._action_labels()  # a missing or malformed label file stops the run before any work
        return sorted_files(raw_dir, ["joints_s*_e*.txt"])

    def _action_labels(self) -> dict[str, list[tuple[str, int | None, int | None, int]]]:
        """``{"s01_e01": [(action, first, last, line), ...]}`` from actionLabel.txt (``None`` for NaN)."""
        if self._labels is None:
            if self.raw_dir is None:
                raise ValueError("the utkinect reader needs the raw directory to find actionLabel.txt: call "
                                 "discover(raw_dir) or bind(raw_dir) first")
            found = [p for p in walk_files(self.raw_dir) if p.name == "actionLabel.txt"]
            if len(found) != 1:
                raise FileNotFoundError(f"{self.raw_dir}: expected one actionLabel.txt (the release's annotation), "
                                        f"found {len(found)}{': ' + ', '.join(map(str, found)) if found else ''}")
            self._labels = self._parse_labels(found[0])
        return self._labels

    def _parse_labels(self, path: Path) -> dict[str, list[tuple[str, int | None, int | None, int]]]:
        labels: dict[str, list[tuple[str, int | None, int | None, int]]] = {}
        current: str | None = None
        for n, line in enumerate(read_text_file(path).splitlines(), 1):
            text = line.strip()
            if not text:
                continue
            block = self._BLOCK.fullmatch(text)
            if block:
                current = f"s{int(block.group(1)):02d}_e{int(block.group(2)):02d}"
                if current in labels:
                    raise SkeletonFileError(path, f"line {n}: sequence {text} listed twice", reason="bad_label")
                labels[current] = []
                continue
            row = self._ROW.fullmatch(text)
            if row is None or current is None:
                raise SkeletonFileError(
                    path, f"line {n}: expected 'sXX_eYY' or 'action: first last', got {text[:60]!r}", reason="bad_label"
                )
            action, first, last = row.groups()
            if action not in self.class_names:
                raise SkeletonFileError(path, f"line {n}: unknown action {action!r} (known: "
                                        f"{', '.join(self.class_names)})", reason="bad_label")
            bounds = []
            for value in (first, last):
                if value.lower() == "nan":
                    bounds.append(None)
                    continue
                try:
                    bounds.append(int(value))
                except ValueError:
                    raise SkeletonFileError(path, f"line {n}: frame {value!r} is neither an integer nor NaN",
                                            reason="bad_label") from None
            if (bounds[0] is None) != (bounds[1] is None) or (bounds[0] is not None and bounds[0] > bounds[1]):
                raise SkeletonFileError(path, f"line {n}: bad frame range {first} {last}", reason="bad_label")
            labels[current].append((action, bounds[0], bounds[1], n))
        return labels

    def read_item(self, item: str, *, untrimmed: bool = False) -> ReadResult:
        path = Path(item)
        subject, repetition = _name_fields(path, self._NAME, "joints_sXX_eYY.txt")
        key = f"s{subject:02d}_e{repetition:02d}"
        actions = self._action_labels().get(key)
        if actions is None:
            raise SkeletonFileError(path, f"sequence {key} has no entry in actionLabel.txt", reason="missing_labels")
        rows = parse_number_rows(path, read_file_bytes(path), 1 + 3 * NUM_JOINTS)
        check_finite(path, rows)
        frame_no = rows[:, 0]
        if not np.all((frame_no == np.round(frame_no)) & (np.abs(frame_no) < 2**24)):
            raise SkeletonFileError(path, "the first value of every line must be the frame number", reason="malformed")
        # Some sequences repeat a frame number: keep its first line, in frame order.
        _, first = np.unique(frame_no, return_index=True)
        rows = rows[np.sort(first)]
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        frame_no = rows[:, 0].astype(np.int64)
        joints = rows[:, 1:].reshape(-1, NUM_JOINTS, 3)
        check_finite(path, joints)
        joints = to_metres(path, joints, self.options.get("units"), hint="pass --reader-option units=mm (or cm)")
        out: list[RawSequence] = []
        dropped: list[SkeletonFileError] = []
        for action, lo, hi, line in actions:
            sample_id = f"{key}_{action}"
            if lo is None:
                dropped.append(SkeletonFileError(path, f"{sample_id}: actionLabel.txt line {line} gives NaN frames",
                                                 reason="unannotated"))
                continue
            keep = (frame_no >= lo) & (frame_no <= hi)
            if not keep.any():
                dropped.append(SkeletonFileError(path, f"{sample_id}: no frame numbered {lo}..{hi} "
                                                 f"(actionLabel.txt line {line})", reason="empty_instance"))
                continue
            try:
                out.append(self._sequence(path, sample_id, joints[keep], label=self.class_names.index(action),
                                          subject=subject, replication=repetition, units="m"))
            except SkeletonFileError as err:
                if err.reason != "empty":
                    raise
                dropped.append(SkeletonFileError(path, f"{sample_id}: every joint of frames {lo}..{hi} is zero "
                                                 f"(actionLabel.txt line {line})", reason="empty_instance"))
        return ReadResult(out, None, dropped)

    def read(self, item: str) -> list[RawSequence]:
        return self.read_item(item).sequences
