"""PKU-MMD phase 1 (``pkummd1``) and phase 2 (``pkummd2``) skeleton releases.

Raw layout (any folder nesting under ``raw_dir``; folder names are the ones the
release archives unpack to, e.g. ``PKU_Skeleton_Renew/`` / ``Train_Label_PKU_final/``
/ ``Split/`` for phase 1, ``Skeleton_v2/`` / ``Label_PKUMMD_v2/`` for phase 2):

* one skeleton text file per untrimmed video, named ``XXXX-V.txt`` in phase 1
  (``0002-L.txt``: four-digit video number, view ``L``/``M``/``R``) and
  ``AxxNyy-V.txt`` in phase 2 (``A01N01-L.txt``). Each line is one frame of 150
  whitespace-separated numbers: 2 bodies x 25 Kinect v2 joints x (x, y, z);
  a body that is not in the frame is written as 75 zeros.
* a label file of the same name per video, each line
  ``label,start,end,confidence``: 1-based action id, first frame, end frame and
  a 1/2 quality flag.
* the official split lists ``cross-subject.txt`` / ``cross-view.txt`` (phase 1;
  the ``cross_subject.txt`` spelling is accepted too) and
  ``cross_subject_v2.txt`` / ``cross_view_v2.txt`` (phase 2): a
  ``Training videos:`` line followed by one line of comma-separated video ids,
  then a ``Validataion videos:`` line (sic) followed by the held-out ids.

Conventions chosen here:

* ``end`` is **exclusive**: an instance covers frames ``start .. end-1`` (``end -
  start`` frames). That is how the official evaluation script measures overlap
  (``min(end) - max(start)`` over ``max(end) - min(start)``) and how public
  loaders slice (``frames[start:end]``). ``end`` may equal the number of frames.
* Instance ids are ``<video>_<k>`` with ``k`` the 0-based row of the label
  file, zero-padded to three digits (``0002-L_003`` is the fourth row).
  Instances whose frames hold no body at all are dropped (as public loaders do);
  the remaining ids keep their row numbers, so ids are stable.
* Labels are the action id minus one. Phase 2 uses ids from the same 51-id
  action list as phase 1 (41 of them occur), so both phases accept ids 1..51
  and keep the phase-1 numbering; public phase-2 pipelines train 51-way heads.
* The subject is not recoverable from either naming scheme (phase 1 numbers
  videos, not people; the meaning of phase 2's ``A``/``N`` fields is not
  documented by the authors), so ``subject`` is -1; cross-subject evaluation
  uses the official lists instead. ``view`` is L/M/R -> 1/2/3.

Every file is looked for under ``raw_dir`` only (directory symlinks there are
followed): a video whose label file is missing there is a ``missing_labels``
error (or a counted skip with ``--on-error skip``), and label files without a
skeleton file are counted as ``missing_skeleton`` skips. An action instance
whose frames hold no body is left out, as public loaders do, and counted
(``empty_instance``).

Options: ``skeleton_dir``, ``label_dir``, ``split_dir`` (relative paths are
taken from ``raw_dir``) override the automatic search, which treats files under a
folder whose name contains ``label`` as label files and the others as
skeletons. ``swap_reversed=True`` repairs label rows with ``start > end`` by
swapping them instead of rejecting the video. ``segmentation=True`` also writes
each whole video with per-frame labels (``untrimmed/`` of the prepared dataset,
for action segmentation); each video is still parsed once.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelssl.data.files import UTF8_BOM, read_file_bytes, read_text_file, walk_files
from skelssl.data.options import check_bool
from skelssl.data.readers.base import DatasetReader, ReadResult, Split, register_reader
from skelssl.data.types import RawSequence, SkeletonFileError, check_finite

__all__ = ["PKUMMD1Reader", "PKUMMD2Reader", "CLASS_NAMES", "parse_split_file", "parse_number_rows"]

NUM_JOINTS = 25
NUM_BODIES = 2
ROW_WIDTH = NUM_BODIES * NUM_JOINTS * 3
VIEWS = {"L": 1, "M": 2, "R": 3}

# Action ids 1..51 in order (the release's Actions.xlsx); interaction classes are
# ids 12, 14, 16, 18, 21, 24, 26, 27.
CLASS_NAMES = (
    "bow", "brushing hair", "brushing teeth", "check time (from watch)", "cheer up",
    "clapping", "cross hands in front (say stop)", "drink water", "drop", "eat meal/snack",
    "falling", "giving something to other person", "hand waving", "handshaking",
    "hopping (one foot jumping)", "hugging other person", "jump up", "kicking other person",
    "kicking something", "make a phone call/answer phone", "pat on back of other person",
    "pickup", "playing with phone/tablet", "point finger at the other person",
    "pointing to something with finger", "punching/slapping other person",
    "pushing other person", "put on a hat/cap", "put something inside pocket", "reading",
    "rub two hands together", "salute", "sitting down", "standing up", "take off a hat/cap",
    "take off glasses", "take off jacket", "take out something from pocket",
    "taking a selfie", "tear up paper", "throw", "touch back (backache)",
    "touch chest (stomachache/heart pain)", "touch head (headache)", "touch neck (neckache)",
    "typing on a keyboard", "use a fan (with hand or paper)/feeling warm", "wear jacket",
    "wear on glasses", "wipe face", "writing",
)

# Bytes that ``bytes.split()`` treats as separators; the row counter must agree.
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True

_SPLIT_HEADER = re.compile(r"^\s*(training|validataion|validation|testing|test)\s+videos\s*:", re.I | re.M)


def parse_number_rows(path: str | Path, data: bytes, width: int) -> np.ndarray:
    """Parse a whitespace-separated text table of ``width`` numbers per line.

    Returns ``(rows, width)`` float32. Trailing blank lines are ignored; any other
    line with the wrong count raises :class:`SkeletonFileError` naming the line
    (``truncated`` for a short last line, ``wrong_joint_count`` otherwise).
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise SkeletonFileError(path, "file is empty", reason="empty")
    space = _WHITESPACE[buf]
    # Token starts: a non-space byte at the start or after a separator.
    start = ~space
    start[1:] &= space[:-1]
    token_pos = np.flatnonzero(start)
    if token_pos.size == 0:
        raise SkeletonFileError(path, "file holds no numbers", reason="empty")
    line_end = np.flatnonzero(buf == 10)
    if line_end.size == 0 or line_end[-1] != buf.size - 1:
        line_end = np.append(line_end, buf.size)
    # Tokens per line from the cumulative token count at each line end.
    counts = np.diff(np.searchsorted(token_pos, line_end), prepend=0)
    last = int(np.flatnonzero(counts)[-1])
    counts = counts[: last + 1]
    bad = np.flatnonzero(counts != width)
    if bad.size:
        line = int(bad[0])
        got = int(counts[line])
        if line == last and got < width:
            raise SkeletonFileError(
                path, f"line {line + 1} has {got} numbers, expected {width} (file cut short)", reason="truncated"
            )
        raise SkeletonFileError(
            path, f"line {line + 1} has {got} numbers, expected {width}", reason="wrong_joint_count"
        )
    tokens = data.split()
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: check_finite reports it
            values = np.array(tokens, dtype=np.float32)
    except ValueError:
        # Slow path only to point at the offending token.
        for i, tok in enumerate(tokens):
            try:
                float(tok)
            except ValueError:
                line = int(np.searchsorted(line_end, token_pos[i])) + 1
                raise SkeletonFileError(
                    path, f"line {line}: {tok[:20]!r} is not a number", reason="malformed"
                ) from None
        # numpy rejected a token that Python's float() accepts (e.g. "1_0").
        raise SkeletonFileError(path, "a value is not a plain decimal number", reason="malformed") from None
    return values.reshape(len(counts), width)


def parse_split_file(path: str | Path) -> tuple[list[str], list[str]]:
    """The (training, validation) video ids of an official PKU-MMD split list."""
    path = Path(path)
    text = read_text_file(path)
    headers = list(_SPLIT_HEADER.finditer(text))
    train_h = [h for h in headers if h.group(1).lower() == "training"]
    test_h = [h for h in headers if h.group(1).lower() != "training"]
    if len(train_h) != 1 or len(test_h) != 1:
        raise ValueError(
            f"{path}: expected one 'Training videos:' and one 'Validataion videos:' line, "
            f"found {len(train_h)} and {len(test_h)}"
        )

    def section(h: re.Match) -> list[str]:
        after = [o.start() for o in headers if o.start() > h.start()]
        body = text[h.end(): min(after) if after else len(text)]
        # Lines end with a trailing comma in the release; drop the empty tokens.
        return [tok for tok in re.split(r"[,\s]+", body) if tok]

    return section(train_h[0]), section(test_h[0])


def _has_label_part(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    return any("label" in p.lower() for p in parts)


class _PKUMMDReader(DatasetReader):
    layout = "ntu25"
    default_recipe = "crossclr"
    class_names = CLASS_NAMES
    known_options = ("skeleton_dir", "label_dir", "split_dir", "swap_reversed", "segmentation")
    num_action_ids = 51
    phase = 1
    _name_re: re.Pattern = re.compile(r"^(\d{4})-([LMR])$")
    split_files: dict[str, tuple[str, ...]] = {}

    def __init__(self, **options) -> None:
        super().__init__(**options)
        for key in ("swap_reversed", "segmentation"):
            if key in options:
                check_bool("reader", self.name, key, options[key])
        for key in ("skeleton_dir", "label_dir", "split_dir"):
            if key in options and not isinstance(options[key], str):
                raise ValueError(f"reader option {key!r} of {self.name} must be a folder path, got {options[key]!r}")
        self.segmentation = bool(options.get("segmentation", False))
        self._skeletons: dict[str, Path] | None = None
        self._labels: dict[str, Path] | None = None

    @property
    def expected_files(self) -> str:  # type: ignore[override]
        example = "0002-L.txt" if self.phase == 1 else "A01N01-L.txt"
        return (f"skeleton files named like {example} with label files of the same name in a folder whose name "
                "contains 'label' (or set the reader options skeleton_dir / label_dir)")

    def bind(self, raw_dir: str | Path | None) -> None:
        super().bind(raw_dir)
        self._skeletons = self._labels = None

    # ------------------------------------------------------------------ paths
    def _option_dir(self, key: str, raw_dir: Path | None = None) -> Path | None:
        value = self.options.get(key)
        if value is None:
            return None
        p = Path(value)
        raw_dir = raw_dir if raw_dir is not None else self.raw_dir
        if not p.is_absolute():
            if raw_dir is None:
                raise ValueError(f"reader option {key}={value!r} is relative to --raw, which was not given")
            p = raw_dir / p
        if not p.is_dir():
            raise FileNotFoundError(f"reader option {key}: folder {p} not found")
        return p

    def _video_files(self, folder: Path) -> list[Path]:
        return [p for p in walk_files(folder) if p.suffix == ".txt" and self._name_re.match(p.stem)]

    @staticmethod
    def _by_stem(files: list[Path], what: str, option: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for p in files:
            if p.stem in found:
                raise ValueError(
                    f"two {what} files for video {p.stem}: {found[p.stem]} and {p}; "
                    f"set the reader option {option!r} to the right folder"
                )
            found[p.stem] = p
        return found

    def _scan(self) -> tuple[dict[str, Path], dict[str, Path]]:
        """Skeleton and label files by video id, from the bound raw directory (or the option folders) only."""
        if self._skeletons is None or self._labels is None:
            skel_dir, label_dir = self._option_dir("skeleton_dir"), self._option_dir("label_dir")
            raw = self.raw_dir
            if raw is None and (skel_dir is None or label_dir is None):
                raise ValueError(f"the {self.name} reader needs the raw directory to find label files: call "
                                 "discover(raw_dir) or bind(raw_dir) first, or set the reader options skeleton_dir "
                                 "and label_dir")
            everything = self._video_files(raw) if skel_dir is None or label_dir is None else []
            if skel_dir is not None:
                skeletons = self._video_files(skel_dir)
            else:
                skeletons = [p for p in everything if not _has_label_part(p, raw)]
            if label_dir is not None:
                labels = self._video_files(label_dir)
            else:
                labels = [p for p in everything if _has_label_part(p, raw)]
            self._skeletons = self._by_stem(skeletons, "skeleton", "skeleton_dir")
            self._labels = self._by_stem(labels, "label", "label_dir")
        return self._skeletons, self._labels

    def discover(self, raw_dir: Path) -> list[str]:
        raw_dir = Path(raw_dir)
        if not raw_dir.is_dir():
            raise FileNotFoundError(f"raw data directory not found: {raw_dir}")
        self.bind(raw_dir)
        skeletons, _ = self._scan()
        return [str(skeletons[k]) for k in sorted(skeletons)]

    def skipped_items(self, raw_dir: Path | None) -> dict[str, str]:
        """Label files whose video has no skeleton file, as ``missing_skeleton``."""
        if raw_dir is None:
            return {}
        if self.raw_dir is None or Path(raw_dir) != self.raw_dir:
            self.bind(raw_dir)
        skeletons, labels = self._scan()
        return {str(labels[k]): "missing_skeleton" for k in sorted(labels) if k not in skeletons}

    def _label_path(self, skeleton: Path) -> Path:
        _, labels = self._scan()
        if skeleton.stem in labels:
            return labels[skeleton.stem]
        label_dir = self._option_dir("label_dir")
        where = str(label_dir) if label_dir is not None else f"{self.raw_dir} (in folders whose name contains 'label')"
        raise SkeletonFileError(skeleton, f"video {skeleton.stem} has no label file {skeleton.name} under {where}",
                                reason="missing_labels")

    # ---------------------------------------------------------------- parsing
    def _video_id(self, path: Path) -> tuple[str, int]:
        match = self._name_re.match(path.stem)
        if not match:
            raise SkeletonFileError(path, f"file name is not a PKU-MMD phase {self.phase} video id",
                                    reason="bad_name")
        return path.stem, VIEWS[match.groups()[-1]]

    def _load_video(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Joints ``(2, T, 25, 3)`` and present ``(2, T)`` of a whole video."""
        rows = parse_number_rows(path, read_file_bytes(path), ROW_WIDTH)
        check_finite(path, rows)
        joints = rows.reshape(-1, NUM_BODIES, NUM_JOINTS, 3).transpose(1, 0, 2, 3)
        present = joints.any(axis=(2, 3))
        return np.ascontiguousarray(joints), present

    def _load_labels(self, label_path: Path, num_frames: int) -> np.ndarray:
        """``(K, 5)`` int64 rows ``(label0, start, end, confidence, line)``, validated."""
        text = read_text_file(label_path)
        rows: list[list[int]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            fields = [f for f in re.split(r"[,\s]+", line.strip()) if f]
            if not fields:
                continue
            if len(fields) not in (3, 4):
                raise SkeletonFileError(label_path, f"line {lineno}: expected 'label,start,end,confidence', "
                                        f"got {line.strip()[:60]!r}", reason="bad_label")
            try:
                values = [int(f) for f in fields]
            except ValueError:
                raise SkeletonFileError(label_path, f"line {lineno}: non-integer field in {line.strip()[:60]!r}",
                                        reason="bad_label") from None
            label, start, end = values[:3]
            confidence = values[3] if len(values) == 4 else -1
            if not 1 <= label <= self.num_action_ids:
                raise SkeletonFileError(label_path, f"line {lineno}: action id {label} outside "
                                        f"1..{self.num_action_ids}", reason="bad_label")
            if start > end and self.options.get("swap_reversed", False):
                start, end = end, start
            if start < 0 or start >= end:
                raise SkeletonFileError(label_path, f"line {lineno}: empty or reversed interval "
                                        f"start={start} end={end}", reason="bad_label")
            if end > num_frames:
                raise SkeletonFileError(label_path, f"line {lineno}: end frame {end} beyond the video's "
                                        f"{num_frames} frames", reason="bad_label")
            if not -(2**62) < confidence < 2**62:
                raise SkeletonFileError(label_path, f"line {lineno}: confidence {confidence} out of range",
                                        reason="bad_label")
            rows.append([label - 1, start, end, confidence, lineno])
        if not rows:
            raise SkeletonFileError(label_path, "label file holds no action instances", reason="empty")
        return np.asarray(rows, dtype=np.int64)

    # -------------------------------------------------------------- interface
    def read_item(self, item: str, *, untrimmed: bool = False) -> ReadResult:
        """The video's trimmed instances (and, if asked, the whole video) from one parse of its files."""
        path = Path(item)
        video, view = self._video_id(path)
        joints, present = self._load_video(path)
        label_path = self._label_path(path)
        labels = self._load_labels(label_path, joints.shape[1])
        out: list[RawSequence] = []
        dropped: list[SkeletonFileError] = []
        for k, (label, start, end, confidence, lineno) in enumerate(labels.tolist()):
            if not present[:, start:end].any():
                dropped.append(SkeletonFileError(
                    path, f"instance {video}_{k:03d} ({label_path.name} line {lineno}, frames {start}..{end - 1}) "
                    "holds no body", reason="empty_instance"))
                continue
            out.append(
                RawSequence(
                    sample_id=f"{video}_{k:03d}",
                    joints=joints[:, start:end].copy(),
                    present=present[:, start:end].copy(),
                    label=int(label),
                    view=view,
                    layout=self.layout,
                    source=str(path),
                    extra={"video": video, "start": int(start), "end": int(end), "confidence": int(confidence)},
                )
            )
        whole = None
        if untrimmed:
            frame_labels = np.full(joints.shape[1], -1, dtype=np.int64)
            # Rows are applied in file order, so a later overlapping row wins.
            for label, start, end, _, _ in labels.tolist():
                frame_labels[start:end] = label
            whole = RawSequence(sample_id=video, joints=joints, present=present, view=view, layout=self.layout,
                                source=str(path), frame_labels=frame_labels, extra={"video": video})
        return ReadResult(out, whole, dropped)

    def read(self, item: str) -> list[RawSequence]:
        return self.read_item(item).sequences

    def untrimmed(self, item: str) -> RawSequence | None:
        return self.read_item(item, untrimmed=True).untrimmed

    def _find_split(self, protocol: str, raw_dir: Path | None) -> Path:
        names = self.split_files[protocol]
        split_dir = self._option_dir("split_dir", raw_dir)
        searched: list[str] = []
        if split_dir is not None:
            for n in names:
                if (split_dir / n).is_file():
                    return split_dir / n
            searched.append(str(split_dir))
        elif raw_dir is not None and Path(raw_dir).is_dir():
            hits = sorted(p for p in walk_files(raw_dir) if p.name in names)
            for n in names:
                for hit in hits:
                    if hit.name == n:
                        return hit
            searched.append(f"{raw_dir} (recursively)")
        raise FileNotFoundError(
            f"PKU-MMD phase {self.phase} split list for {protocol!r} not found: looked for "
            f"{' / '.join(names)} in {', '.join(searched) or 'nowhere (no raw_dir given)'}; "
            f"put the official file there or set the reader option 'split_dir'"
        )

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        raw_dir = Path(raw_dir) if raw_dir is not None else self.raw_dir
        videos = np.array([str(s).rsplit("_", 1)[0] for s in meta["sample_id"]])
        idx = np.arange(len(videos))
        out: dict[str, Split] = {}
        for protocol in ("xsub", "xview"):
            split_path = self._find_split(protocol, raw_dir)
            train, test = parse_split_file(split_path)
            both = set(train) & set(test)
            if both:
                raise ValueError(f"{split_path}: videos listed as both training and validation: {sorted(both)[:5]}")
            out[protocol] = {"train": idx[np.isin(videos, train)], "test": idx[np.isin(videos, test)]}
        return out


@register_reader("pkummd1")
class PKUMMD1Reader(_PKUMMDReader):
    phase = 1
    _name_re = re.compile(r"^(\d{4})-([LMR])$")
    split_files = {
        "xsub": ("cross-subject.txt", "cross_subject.txt"),
        "xview": ("cross-view.txt", "cross_view.txt"),
    }


@register_reader("pkummd2")
class PKUMMD2Reader(_PKUMMDReader):
    phase = 2
    _name_re = re.compile(r"^A(\d+)N(\d+)-([LMR])$")
    split_files = {
        "xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt"),
        "xview": ("cross_view_v2.txt", "cross-view_v2.txt"),
    }
