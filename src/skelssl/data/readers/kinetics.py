"""Kinetics-skeleton, the OpenPose release of ST-GCN (Yan et al. 2018).

Raw layout under ``raw_dir``::

    kinetics_train/<video>.json      one file per video
    kinetics_val/<video>.json
    kinetics_train_label.json        {video: {"has_skeleton", "label", "label_index"}}
    kinetics_val_label.json

A video file is ``{"data": [{"frame_index": i, "skeleton": [{"pose": [x0, y0,
x1, y1, ...] (36 numbers), "score": [18 numbers]}, ...]}, ...], "label": str,
"label_index": int}`` with coordinates normalised to [0, 1] and OpenPose
COCO-18 joint order (``openpose18`` layout, channels x, y, score).

Conventions:

* ``frame_index`` is 1-based in the release; frame ``i`` goes to time step
  ``i - 1`` and ``T`` is the largest index. A file whose indices include 0 is
  read 0-based instead (``T`` = largest index + 1), so files written by other
  OpenPose packers are not shifted; reader option ``frame_base`` (1 or 0) forces
  one convention. Frames absent from ``data`` are zeros with ``present`` False.
* Slot ``s`` of a frame is the ``s``-th person listed in that frame; at most 5
  slots are kept (ST-GCN's ``num_person_in``; option ``max_people``), people
  beyond that are dropped. ``S`` is the largest number of people in any frame
  (capped at 5, at least 1). If a frame index repeats, the later entry
  overwrites the earlier one's slots.
* Keeping the two most confident people per frame is a recipe step:
  :func:`select_most_confident`.
* The ``setup`` column records the folder: 0 for ``kinetics_train/``, 1 for
  ``kinetics_val/``, so :meth:`KineticsReader.protocols` needs only the
  metadata. The protocol is ``"val"``: train = train folder, test = val folder.
* Videos whose label-index entry says ``has_skeleton: false`` raise
  :class:`SkeletonFileError` with reason ``"no_skeleton"`` (ST-GCN ignores them
  too). A video whose frames list nobody is read (all slots absent) and then
  counted by ``prepare`` as ``"empty"``, like any sample without a body, rather
  than kept as zeros. The label index's ``label_index`` is authoritative; a disagreeing
  ``label_index`` inside the video file raises ``"bad_label"``, and so does a
  label-index entry that is not ``{"has_skeleton": bool, "label": str,
  "label_index": int}`` (the message names the index file and the video).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skelssl.data.files import read_json_file, walk_files
from skelssl.data.recipes.steps import select_most_confident
from skelssl.data.readers.base import DatasetReader, Split, register_reader
from skelssl.data.types import RawSequence, SkeletonFileError, check_finite

__all__ = ["KineticsReader", "select_most_confident", "FOLDERS"]

NUM_JOINTS = 18
NUM_CLASSES = 400
MAX_PEOPLE = 5
# Kinetics clips are about 10 s; anything near this bound is a corrupt index.
MAX_FRAMES = 100_000
# Folder name -> value stored in the ``setup`` column.
FOLDERS = {"kinetics_train": 0, "kinetics_val": 1}


@register_reader("kinetics")
class KineticsReader(DatasetReader):
    layout = "openpose18"
    # Recipe presets are registered elsewhere; this names ST-GCN's Kinetics pipeline.
    default_recipe = "stgcn_kinetics"
    num_classes = NUM_CLASSES
    known_options = ("frame_base", "max_people")
    expected_files = ("<video>.json files inside folders named " + " and ".join(f"{f}/" for f in FOLDERS)
                      + " (any depth under --raw), with " + " / ".join(f"{f}_label.json" for f in FOLDERS)
                      + " beside them")

    def __init__(self, **options) -> None:
        super().__init__(**options)
        base = options.get("frame_base", "auto")
        if base != "auto" and (isinstance(base, bool) or base not in (0, 1)):
            raise ValueError(f"reader option frame_base must be 0, 1 or 'auto', got {base!r}")
        people = options.get("max_people", MAX_PEOPLE)
        if isinstance(people, bool) or not isinstance(people, int) or people < 1:
            raise ValueError(f"reader option max_people must be a positive integer, got {people!r}")
        # Label index JSONs are large (240k entries for train); parse once per process.
        self._index_cache: dict[Path, dict | None] = {}

    def discover(self, raw_dir: Path) -> list[str]:
        found = {p for p in walk_files(raw_dir) if p.parent.name in FOLDERS and p.suffix == ".json"}
        return [str(p) for p in sorted(found)]

    def _label_index(self, path: Path) -> dict | None:
        if path not in self._index_cache:
            if not path.is_file():
                self._index_cache[path] = None
            else:
                index = read_json_file(path)
                if not isinstance(index, dict):
                    raise SkeletonFileError(path, "label index must map video id -> entry", reason="malformed")
                self._index_cache[path] = index
        return self._index_cache[path]

    def _entry(self, index_path: Path, index: dict | None, video: str) -> dict | None:
        """The label-index entry of ``video``, checked: a malformed entry names the index file and the video."""
        entry = index.get(video) if index is not None else None
        if entry is None:
            return None

        def bad(problem: str) -> SkeletonFileError:
            return SkeletonFileError(index_path, f"entry {video!r}: {problem}", reason="bad_label")

        if not isinstance(entry, dict):
            raise bad(f"must be an object with has_skeleton / label / label_index, got {json.dumps(entry)[:60]}")
        if not isinstance(entry.get("has_skeleton", True), bool):
            raise bad(f"has_skeleton must be true or false, got {json.dumps(entry['has_skeleton'])[:40]}")
        if "label_index" in entry and not _is_int(entry["label_index"]):
            raise bad(f"label_index must be an integer, got {json.dumps(entry['label_index'])[:40]}")
        return entry

    def _frame_base(self, path: Path, frame_index: np.ndarray) -> int:
        base = self.options.get("frame_base", "auto")
        if base == "auto":
            return 0 if frame_index.min() == 0 else 1
        if frame_index.min() < base:
            raise SkeletonFileError(path, f"frame_index {int(frame_index.min())} below the first frame {base}",
                                    reason="malformed")
        return int(base)

    def read(self, item: str) -> list[RawSequence]:
        path = Path(item)
        folder = path.parent.name
        if folder not in FOLDERS:
            raise SkeletonFileError(path, f"not inside {' or '.join(f'{f}/' for f in FOLDERS)}", reason="bad_name")
        setup = FOLDERS[folder]
        index_path = path.parent.parent / f"{folder}_label.json"
        entry = self._entry(index_path, self._label_index(index_path), path.stem)
        if entry is not None and not entry.get("has_skeleton", True):
            raise SkeletonFileError(path, "label index marks this video has_skeleton: false", reason="no_skeleton")
        record = read_json_file(path)
        if not isinstance(record, dict) or not isinstance(record.get("data"), list):
            raise SkeletonFileError(path, "no 'data' list", reason="malformed")
        frames = record["data"]
        if not frames:
            raise SkeletonFileError(path, "zero-length sequence (no frames)", reason="empty")
        max_people = int(self.options.get("max_people", MAX_PEOPLE))

        try:
            frame_index = np.asarray([f["frame_index"] for f in frames])
            people = [f["skeleton"][:max_people] for f in frames]
            slot = np.concatenate([np.arange(len(p)) for p in people]).astype(np.int64)
            owner = np.repeat(np.arange(len(frames)), [len(p) for p in people])
            poses = [q["pose"] for p in people for q in p]
            scores = [q["score"] for p in people for q in p]
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise SkeletonFileError(path, f"frame entries must be objects with frame_index and a skeleton list of "
                                    f"pose/score objects ({type(err).__name__}: {err})", reason="malformed") from None
        if frame_index.dtype.kind not in "iu" or frame_index.ndim != 1:
            raise SkeletonFileError(path, "frame_index values must be integers", reason="malformed")
        if frame_index.min() < 0:
            raise SkeletonFileError(path, f"negative frame_index {int(frame_index.min())}", reason="malformed")
        base = self._frame_base(path, frame_index)
        num_frames = int(frame_index.max()) - base + 1
        if num_frames > MAX_FRAMES:
            # A corrupt index would otherwise allocate a giant array.
            raise SkeletonFileError(path, f"frame_index {int(frame_index.max())} implies {num_frames} frames "
                                    f"(more than {MAX_FRAMES})", reason="malformed")
        num_slots = max(1, int(slot.max()) + 1 if slot.size else 1)

        joints = np.zeros((num_slots, num_frames, NUM_JOINTS, 3), dtype=np.float32)
        present = np.zeros((num_slots, num_frames), dtype=bool)
        if poses:
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # inf is reported by check_finite
                    pose = np.asarray(poses, dtype=np.float32)
                    score = np.asarray(scores, dtype=np.float32)
            except (ValueError, TypeError, OverflowError):
                raise SkeletonFileError(path, "poses/scores have differing lengths or non-numeric values",
                                        reason="wrong_joint_count") from None
            if pose.shape != (len(poses), 2 * NUM_JOINTS) or score.shape != (len(poses), NUM_JOINTS):
                raise SkeletonFileError(
                    path, f"expected pose of {2 * NUM_JOINTS} and score of {NUM_JOINTS} numbers per person, "
                    f"got {pose.shape[1:]} and {score.shape[1:]}", reason="wrong_joint_count")
            t = frame_index[owner] - base
            joints[slot, t, :, 0] = pose[:, 0::2]
            joints[slot, t, :, 1] = pose[:, 1::2]
            joints[slot, t, :, 2] = score
            present[slot, t] = True
        check_finite(path, joints)

        file_label = record.get("label_index")
        if file_label is not None and not _is_int(file_label):
            raise SkeletonFileError(path, f"label_index must be an integer, got {json.dumps(file_label)[:40]}",
                                    reason="bad_label")
        index_label = entry.get("label_index") if entry is not None else None
        if file_label is not None and index_label is not None and int(file_label) != int(index_label):
            raise SkeletonFileError(path, f"label_index {file_label} disagrees with the label index's {index_label}",
                                    reason="bad_label")
        label = index_label if index_label is not None else file_label
        label = -1 if label is None else int(label)
        if not -1 <= label < self.num_classes:
            raise SkeletonFileError(path, f"label_index {label} outside 0..{self.num_classes - 1}", reason="bad_label")
        name = (entry or {}).get("label", record.get("label", ""))
        if not isinstance(name, str):
            name = json.dumps(name)[:60]
        return [
            RawSequence(
                sample_id=path.stem,
                joints=joints,
                present=present,
                label=label,
                setup=setup,
                layout=self.layout,
                source=str(path),
                extra={"label_name": str(name)},
            )
        ]

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        setup = np.asarray(meta["setup"])
        idx = np.arange(len(setup))
        train, val = FOLDERS["kinetics_train"], FOLDERS["kinetics_val"]
        return {"val": {"train": idx[setup == train], "test": idx[setup == val]}}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
