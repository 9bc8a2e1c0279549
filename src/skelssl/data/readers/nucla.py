"""Northwestern-UCLA Multiview Action 3D, ``all_sqe`` JSON release.

One file per sample, named ``aAA_sSS_eEE_vVV.json`` (action, subject,
repetition, camera view) holding ``{"file_name", "skeletons": [T][20][3],
"label": 1..10}``. One subject, Kinect v1 (``kinect20`` layout).

A frame whose joints are all zero holds no body (``present`` False there); a
file with no body in any frame is an ``empty`` error, like a file with no frames.
The ``label`` field, when present, must be an integer that agrees with the file
name (``bad_label`` otherwise).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from skelssl.data.readers.base import DatasetReader, Split, read_json_file, register_reader, sorted_files
from skelssl.data.types import RawSequence, SkeletonFileError, check_finite

_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)$")
# Action ids present in the release, in label order (label 1 is a01, label 10 is a12).
ACTION_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
CLASS_NAMES = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around",
    "sit down", "stand up", "donning", "doffing", "throw", "carry",
)


@register_reader("nucla")
class NUCLAReader(DatasetReader):
    layout = "kinect20"
    # Si et al.'s preprocessing, which every published N-UCLA number uses (see docs/nucla-accuracy.md).
    default_recipe = "agc_lstm"
    class_names = CLASS_NAMES
    expected_files = "aAA_sSS_eEE_vVV.json files of the all_sqe release (any folder depth under --raw)"

    def discover(self, raw_dir: Path) -> list[str]:
        return sorted_files(raw_dir, ["a*_s*_e*_v*.json"])

    def read(self, item: str) -> list[RawSequence]:
        path = Path(item)
        match = _NAME.match(path.stem)
        if not match:
            raise SkeletonFileError(path, "file name is not aAA_sSS_eEE_vVV.json", reason="bad_name")
        action, subject, repetition, view = (int(g) for g in match.groups())
        if action not in ACTION_IDS:
            raise SkeletonFileError(path, f"unknown action id a{action:02d}", reason="bad_label")
        record = read_json_file(path)
        if not isinstance(record, dict) or "skeletons" not in record:
            raise SkeletonFileError(path, "no 'skeletons' field", reason="malformed")
        frames = record["skeletons"]
        if not isinstance(frames, list):
            raise SkeletonFileError(path, f"'skeletons' must be a list of frames, got {type(frames).__name__}",
                                    reason="malformed")
        if len(frames) == 0:
            raise SkeletonFileError(path, "zero-length sequence (no frames)", reason="empty")
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: reported below
                joints = np.asarray(frames, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            raise SkeletonFileError(path, "frames have differing joint counts or non-numeric values",
                                    reason="wrong_joint_count") from None
        if joints.ndim != 3 or joints.shape[1:] != (20, 3):
            raise SkeletonFileError(path, f"expected skeletons of shape [T][20][3], got {list(joints.shape)}",
                                    reason="wrong_joint_count")
        check_finite(path, joints)
        present = joints.any(axis=(1, 2))
        if not present.any():
            raise SkeletonFileError(path, f"every value of the {len(joints)} frames is zero (no body)", reason="empty")
        label = ACTION_IDS.index(action)
        stored = record.get("label")
        if stored is not None:
            if not isinstance(stored, int) or isinstance(stored, bool):
                raise SkeletonFileError(path, f"label field must be an integer 1..{len(ACTION_IDS)}, got "
                                        f"{json.dumps(stored)[:40]}", reason="bad_label")
            if stored != label + 1:
                raise SkeletonFileError(path, f"label field {stored} disagrees with file name a{action:02d}",
                                        reason="bad_label")
        return [
            RawSequence(
                sample_id=path.stem,
                joints=joints[None],
                present=present[None],
                label=label,
                subject=subject,
                view=view,
                replication=repetition,
                layout=self.layout,
                source=str(path),
            )
        ]

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        view = meta["view"]
        idx = np.arange(len(view))
        # Cross-view (Wang et al. 2014; used by ASSL): views 1 and 2 train, view 3 test.
        return {"xview": {"train": idx[view != 3], "test": idx[view == 3]}}
