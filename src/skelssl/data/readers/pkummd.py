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

Options: ``skeleton_dir``, ``label_dir``, ``split_dir`` (relative paths are
taken from ``raw_dir``) override the automatic search, which treats files under a
folder whose name contains ``label`` as label files and the others as
skeletons. ``swap_reversed=True`` repairs label rows with ``start > end`` by
swapping them instead of rejecting the video.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from skelssl.data.readers.base import DatasetReader, Split, register_reader
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
    text = path.read_text(encoding="utf-8", errors="replace")
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
    num_action_ids = 51
    phase = 1
    _name_re: re.Pattern = re.compile(r"^(\d{4})-([LMR])$")
    split_files: dict[str, tuple[str, ...]] = {}

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._raw_dir: Path | None = None
        self._labels: dict[str, Path] = {}

    # ------------------------------------------------------------------ paths
    def _option_dir(self, key: str, raw_dir: Path | None) -> Path | None:
        value = self.options.get(key)
        if value is None:
            return None
        p = Path(value)
        if not p.is_absolute() and raw_dir is not None:
            p = Path(raw_dir) / p
        return p

    def _video_files(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*.txt") if p.is_file() and self._name_re.match(p.stem))

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

    def discover(self, raw_dir: Path) -> list[str]:
        raw_dir = Path(raw_dir)
        if not raw_dir.is_dir():
            raise FileNotFoundError(f"raw data directory not found: {raw_dir}")
        self._raw_dir = raw_dir
        skel_dir = self._option_dir("skeleton_dir", raw_dir)
        label_dir = self._option_dir("label_dir", raw_dir)
        everything = self._video_files(raw_dir) if skel_dir is None or label_dir is None else []
        if skel_dir is not None:
            skeletons = self._video_files(skel_dir)
        else:
            skeletons = [p for p in everything if not _has_label_part(p, raw_dir)]
        if label_dir is not None:
            labels = self._video_files(label_dir)
        else:
            labels = [p for p in everything if _has_label_part(p, raw_dir)]
        skel_map = self._by_stem(skeletons, "skeleton", "skeleton_dir")
        self._labels = self._by_stem(labels, "label", "label_dir")
        return [str(skel_map[k]) for k in sorted(skel_map)]

    def _label_path(self, skeleton: Path) -> Path:
        name = skeleton.name
        if skeleton.stem in self._labels:
            return self._labels[skeleton.stem]
        label_dir = self._option_dir("label_dir", self._raw_dir)
        if label_dir is not None:
            return label_dir / name
        # Without discover() (e.g. a fresh reader in a worker): look for a
        # "*label*" folder beside the skeleton folder, up to three levels up.
        for ancestor in list(skeleton.parents)[1:4]:
            for pattern in (f"*/{name}", f"*/*/{name}"):
                for cand in sorted(ancestor.glob(pattern)):
                    if cand != skeleton and _has_label_part(cand, ancestor):
                        return cand
        raise SkeletonFileError(skeleton, f"no label file {name} found (set the reader option 'label_dir')",
                                reason="missing_label")

    # ---------------------------------------------------------------- parsing
    def _video_id(self, path: Path) -> tuple[str, int]:
        match = self._name_re.match(path.stem)
        if not match:
            raise SkeletonFileError(path, f"file name is not a PKU-MMD phase {self.phase} video id",
                                    reason="bad_name")
        return path.stem, VIEWS[match.groups()[-1]]

    def _load_video(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Joints ``(2, T, 25, 3)`` and present ``(2, T)`` of a whole video."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SkeletonFileError(path, "skeleton file not found", reason="missing") from None
        rows = parse_number_rows(path, data, ROW_WIDTH)
        check_finite(path, rows)
        joints = rows.reshape(-1, NUM_BODIES, NUM_JOINTS, 3).transpose(1, 0, 2, 3)
        present = joints.any(axis=(2, 3))
        return np.ascontiguousarray(joints), present

    def _load_labels(self, label_path: Path, num_frames: int) -> np.ndarray:
        """``(K, 4)`` int64 rows ``(label0, start, end, confidence)``, validated."""
        try:
            text = label_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise SkeletonFileError(label_path, "label file not found", reason="missing_label") from None
        rows: list[list[int]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            fields = [f for f in re.split(r"[,\s]+", line.strip()) if f]
            if not fields:
                continue
            if len(fields) not in (3, 4):
                raise SkeletonFileError(label_path, f"line {lineno}: expected 'label,start,end,confidence', "
                                        f"got {line.strip()!r}", reason="bad_label")
            try:
                values = [int(f) for f in fields]
            except ValueError:
                raise SkeletonFileError(label_path, f"line {lineno}: non-integer field in {line.strip()!r}",
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
            rows.append([label - 1, start, end, confidence])
        if not rows:
            raise SkeletonFileError(label_path, "label file holds no action instances", reason="empty")
        return np.asarray(rows, dtype=np.int64)

    # -------------------------------------------------------------- interface
    def read(self, item: str) -> list[RawSequence]:
        path = Path(item)
        video, view = self._video_id(path)
        joints, present = self._load_video(path)
        labels = self._load_labels(self._label_path(path), joints.shape[1])
        out: list[RawSequence] = []
        for k, (label, start, end, confidence) in enumerate(labels.tolist()):
            if not present[:, start:end].any():
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
        return out

    def untrimmed(self, item: str) -> RawSequence | None:
        path = Path(item)
        video, view = self._video_id(path)
        joints, present = self._load_video(path)
        labels = self._load_labels(self._label_path(path), joints.shape[1])
        frame_labels = np.full(joints.shape[1], -1, dtype=np.int64)
        # Rows are applied in file order, so a later overlapping row wins.
        for label, start, end, _ in labels.tolist():
            frame_labels[start:end] = label
        return RawSequence(
            sample_id=video,
            joints=joints,
            present=present,
            view=view,
            layout=self.layout,
            source=str(path),
            frame_labels=frame_labels,
            extra={"video": video},
        )

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
            for n in names:
                hits = sorted(Path(raw_dir).rglob(n))
                if hits:
                    return hits[0]
            searched.append(f"{raw_dir} (recursively)")
        raise FileNotFoundError(
            f"PKU-MMD phase {self.phase} split list for {protocol!r} not found: looked for "
            f"{' / '.join(names)} in {', '.join(searched) or 'nowhere (no raw_dir given)'}; "
            f"put the official file there or set the reader option 'split_dir'"
        )

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        raw_dir = Path(raw_dir) if raw_dir is not None else self._raw_dir
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
