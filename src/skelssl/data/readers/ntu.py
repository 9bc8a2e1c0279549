"""NTU RGB+D 60 (``ntu60``) and NTU RGB+D 120 (``ntu120``) ``.skeleton`` files.

One text file per sample, named ``SsssCcccPpppRrrrAaaa.skeleton`` (setup,
camera, performer, replication, action; e.g. ``S001C002P003R002A013``). Layout
of a file, one item per line:

* the frame count ``T``;
* per frame: the body count, then per body
  * 10 body fields: ``bodyID clippedEdges handLeftConfidence handLeftState
    handRightConfidence handRightState isRestricted leanX leanY trackingState``
    (``bodyID`` is the Kinect's 64-bit tracking id),
  * the joint count (25),
  * one line per joint with 12 numbers: ``x y z depthX depthY colorX colorY
    orientationW orientationX orientationY orientationZ trackingState``.

Conventions chosen here:

* Slot ``s`` of frame ``t`` holds the ``s``-th body listed in that frame (file
  order, as ST-GCN's ``read_xyz`` does), so a body's slot can change when
  another one appears or vanishes; ``body_ids`` lets recipes regroup by
  identity. At most ``max_bodies`` slots are kept (default 4, ST-GCN's
  ``max_body_kinect``; the sensor tracks up to 6 bodies); later bodies of a
  crowded frame are dropped and counted in ``extra["dropped_bodies"]``. ``S``
  is the largest body count of any frame, capped at ``max_bodies``. Frames
  with no body stay in the sequence, with nothing present.
* ``body_ids`` holds each slot's ``bodyID`` parsed exactly as an integer (ids
  are ~7.2e16, beyond float64's exact range) and 0 where the slot is empty;
  ids above 2**63 - 1 are stored as their two's-complement int64 so distinct
  ids stay distinct.
* ``label`` is the action id minus one; ``view`` is the camera id; ``subject``
  the performer id.
* The samples that the dataset authors list as having missing skeletons (302 in
  NTU-60, 535 in NTU-120, shipped as ``skelssl/resources/ntu_missing_*.txt``)
  are left out by ``discover`` and reported by ``skipped_items`` unless
  ``ignore_missing_list=True``.
* ``ntu60`` takes only setups 1..17 and actions 1..60, so pointing it at an
  NTU-120 folder yields exactly NTU-60.
* Content after the last announced frame is ignored (readers that follow the
  counts, like the reference scripts, never see it).

Parsing is vectorised: the frame/body structure is walked with the counts (a
Python loop over frames and bodies only), then every line's value count and
the characters of the whole file are checked, and the x, y, z of all joints
are converted to numbers in one batch of numpy operations.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from skelssl.data.readers.base import DatasetReader, Split, register_reader, sorted_files
from skelssl.data.readers.ntu_format import (
    BODY_FIELDS,
    JOINT_FIELDS,
    MAX_BODIES,
    NUM_JOINTS,
    parse_ntu_skeleton,
    parse_sample_name,
    read_ntu_skeleton,
    write_ntu_skeleton,
)
from skelssl.data.types import RawSequence, SkeletonFileError

__all__ = [
    "NTU60Reader",
    "NTU120Reader",
    "CLASS_NAMES",
    "NTU60_TRAIN_SUBJECTS",
    "NTU60_TRAIN_CAMERAS",
    "NTU120_TRAIN_SUBJECTS",
    "parse_sample_name",
    "missing_skeleton_samples",
    "parse_ntu_skeleton",
    "read_ntu_skeleton",
    "write_ntu_skeleton",
    "NUM_JOINTS",
    "MAX_BODIES",
    "BODY_FIELDS",
    "JOINT_FIELDS",
]


MISSING_SKELETON_REASON = "missing_skeleton_list"

# Cross-subject training performers (Shahroudy et al. CVPR 2016; Liu et al. TPAMI 2019).
NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
)
# Cross-view: cameras 2 and 3 train, camera 1 tests.
NTU60_TRAIN_CAMERAS = (2, 3)

# Action ids 1..120 in order, as listed by the dataset authors (A1..A60 form NTU-60).
CLASS_NAMES = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup",
    "throw", "sitting down", "standing up (from sitting position)", "clapping", "reading",
    "writing", "tear up paper", "wear jacket", "take off jacket", "wear a shoe",
    "take off a shoe", "wear on glasses", "take off glasses", "put on a hat/cap",
    "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "put something inside pocket / take out something from pocket",
    "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow",
    "shake head", "wipe face", "salute", "put the palms together",
    "cross hands in front (say stop)", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair",
    "thumb up", "thumb down", "make ok sign", "make victory sign", "staple book",
    "counting money", "cutting nails", "cutting paper (using scissors)", "snapping fingers",
    "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back",
    "put on bag", "take off bag", "put something into a bag", "take something out of a bag",
    "open a box", "move heavy objects", "shake fist", "throw up cap/hat",
    "hands up (both hands)", "cross arms", "arm circles", "arm swings", "running on the spot",
    "butt kicks (kick backward)", "cross toe touch", "side kick", "yawn", "stretch oneself",
    "blow nose", "hit other person with something", "wield knife towards other person",
    "knock over other person (hit with body)", "grab other person’s stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person’s ear",
    "exchange things with other person",
    "support somebody with one’s hand (someone is sick, help him to walk)",
    "finger-guessing game (playing rock-paper-scissors)",
)


@lru_cache(maxsize=None)
def missing_skeleton_samples(version: int) -> frozenset[str]:
    """The authors' list of samples with missing skeletons, ``version`` 60 or 120."""
    if version not in (60, 120):
        raise ValueError(f"NTU version must be 60 or 120, got {version}")
    text = resources.files("skelssl").joinpath("resources", f"ntu_missing_{version}.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


# ---------------------------------------------------------------------------
# Readers


_READER_DOC = """

    ``discover(raw_dir)`` lists every ``*.skeleton`` file under ``raw_dir``
    (any nesting, sorted by path) that belongs to this dataset, leaving out the
    samples on the authors' missing-skeleton list. Files whose names do not
    parse stay listed so that ``read`` reports them (reason ``bad_name``).

    ``skipped_items(raw_dir)`` maps each file under ``raw_dir`` that ``discover``
    leaves out because it is on the missing-skeleton list to the reason
    ``"missing_skeleton_list"`` (``{}`` for ``raw_dir=None``), so the prepare
    summary can count those samples as skipped.

    Options: ``ignore_missing_list`` (default False) keeps the listed samples;
    ``max_bodies`` (default 4) caps the body slots per frame. See the module
    docstring for the file format and the slot / id conventions.
    """


class _NTUReader(DatasetReader):
    """Shared implementation of the NTU RGB+D readers.""" + _READER_DOC

    layout = "ntu25"
    default_recipe = "crossclr"
    expected_files = "SsssCcccPpppRrrrAaaa.skeleton files (any folder depth under --raw)"
    max_setup: int = 32
    max_action: int = 120
    version: int = 120

    def __init__(self, *, ignore_missing_list: bool = False, max_bodies: int = MAX_BODIES, **options) -> None:
        super().__init__(ignore_missing_list=ignore_missing_list, max_bodies=max_bodies, **options)
        self.ignore_missing_list = bool(ignore_missing_list)
        self.max_bodies = int(max_bodies)
        if self.max_bodies < 1:
            raise ValueError(f"max_bodies must be at least 1, got {max_bodies}")

    def _in_dataset(self, fields: tuple[int, int, int, int, int]) -> bool:
        setup, _, _, _, action = fields
        return 1 <= setup <= self.max_setup and 1 <= action <= self.max_action

    def _listing(self, raw_dir: Path) -> tuple[list[str], dict[str, str]]:
        missing = frozenset() if self.ignore_missing_list else missing_skeleton_samples(self.version)
        items: list[str] = []
        skipped: dict[str, str] = {}
        for path in sorted_files(raw_dir, ["*.skeleton"]):
            stem = Path(path).stem
            fields = parse_sample_name(stem)
            # Files with unparsable names stay in the listing so read() reports them.
            if fields is not None and not self._in_dataset(fields):
                continue
            if stem in missing:
                skipped[path] = MISSING_SKELETON_REASON
            else:
                items.append(path)
        return items, skipped

    def discover(self, raw_dir: Path) -> list[str]:
        return self._listing(Path(raw_dir))[0]

    def skipped_items(self, raw_dir: Path | None) -> dict[str, str]:
        """Files under ``raw_dir`` left out by :meth:`discover`, mapped to the reason."""
        if raw_dir is None:
            return {}
        return self._listing(Path(raw_dir))[1]

    def read(self, item: str) -> list[RawSequence]:
        path = Path(item)
        fields = parse_sample_name(path.stem)
        if fields is None:
            raise SkeletonFileError(path, "file name is not SsssCcccPpppRrrrAaaa.skeleton", reason="bad_name")
        if not self._in_dataset(fields):
            raise SkeletonFileError(
                path, f"setup {fields[0]} / action {fields[4]} is outside {self.name} "
                f"(setups 1..{self.max_setup}, actions 1..{self.max_action})", reason="not_in_dataset",
            )
        setup, camera, performer, replication, action = fields
        joints, present, body_ids, dropped = read_ntu_skeleton(path, max_bodies=self.max_bodies)
        return [
            RawSequence(
                sample_id=path.stem,
                joints=joints,
                present=present,
                label=action - 1,
                subject=performer,
                view=camera,
                setup=setup,
                replication=replication,
                layout=self.layout,
                source=str(path),
                body_ids=body_ids,
                extra={"dropped_bodies": dropped} if dropped else {},
            )
        ]


def _split(mask: np.ndarray, within: np.ndarray | None = None) -> Split:
    idx = np.arange(len(mask), dtype=np.int64)
    if within is None:
        within = np.ones(len(mask), dtype=bool)
    return {"train": idx[within & mask], "test": idx[within & ~mask]}


@register_reader("ntu60")
class NTU60Reader(_NTUReader):
    __doc__ = """NTU RGB+D 60: setups 1-17, actions 1-60; protocols ``xsub`` and ``xview``.""" + _READER_DOC
    max_setup = 17
    max_action = 60
    version = 60
    class_names = CLASS_NAMES[:60]

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        subject = np.asarray(meta["subject"])
        view = np.asarray(meta["view"])
        xview_mask = np.isin(view, NTU60_TRAIN_CAMERAS)
        # Cross-view tests on camera 1 only; cameras outside 1..3 belong to neither part.
        return {
            "xsub": _split(np.isin(subject, NTU60_TRAIN_SUBJECTS)),
            "xview": _split(xview_mask, within=xview_mask | (view == 1)),
        }


@register_reader("ntu120")
class NTU120Reader(_NTUReader):
    __doc__ = (
        """NTU RGB+D 120: setups 1-32, actions 1-120; protocols ``xsub``, ``xset``,
    ``ntu61_120_xsub`` and ``ntu61_120_xset`` (the last two hold only actions 61-120)."""
        + _READER_DOC
    )
    max_setup = 32
    max_action = 120
    version = 120
    class_names = CLASS_NAMES

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        subject = np.asarray(meta["subject"])
        setup = np.asarray(meta["setup"])
        label = np.asarray(meta["label"])
        xsub = np.isin(subject, NTU120_TRAIN_SUBJECTS)
        xset = setup % 2 == 0
        # The NTU-61-120 transfer subset: only the 60 classes added by NTU-120.
        new_classes = (label >= 60) & (label < 120)
        return {
            "xsub": _split(xsub),
            "xset": _split(xset),
            "ntu61_120_xsub": _split(xsub, within=new_classes),
            "ntu61_120_xset": _split(xset, within=new_classes),
        }
