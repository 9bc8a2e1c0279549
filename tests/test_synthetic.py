"""The built-in synthetic dataset: determinism, shapes, realism, balance, difficulty, reader."""

import time

import numpy as np
import pytest

from skelssl.data.layouts import get_layout
from skelssl.data.readers import get_reader
from skelssl.data.synthetic import (
    CLASS_NAMES,
    KINECT20_FROM_NTU25,
    MAX_CLASSES,
    SyntheticConfig,
    generate,
    sample_design,
    xsub_train_subjects,
)
from skelssl.data.types import SkeletonFileError


# ----------------------------------------------------------------------------- helpers


def simple_features(seqs, frames: int = 16) -> np.ndarray:
    """The calibration features: the actor's present frames resampled to ``frames``,
    centred on the first frame's spine base, flattened."""
    out = []
    for s in seqs:
        j = s.joints[0][s.present[0]]
        pick = np.linspace(0, len(j) - 1, frames).round().astype(int)
        out.append((j[pick] - j[0, 0]).ravel())
    return np.asarray(out, dtype=np.float64)


def nearest_centroid_accuracy(seqs, num_classes: int) -> float:
    """Nearest class mean on :func:`simple_features`, trained on xsub train, tested on xsub test."""
    x = simple_features(seqs)
    y = np.array([s.label for s in seqs])
    train = np.isin([s.subject for s in seqs], xsub_train_subjects())
    centroids = np.stack([x[train & (y == c)].mean(0) for c in range(num_classes)])
    dist = ((x[~train, None, :] - centroids[None]) ** 2).sum(-1)
    return float((dist.argmin(1) == y[~train]).mean())


def robust_std(x: np.ndarray, axis: int) -> np.ndarray:
    # MAD-based, so the rare single-frame tracking glitches do not dominate.
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


@pytest.fixture(scope="module")
def default_set():
    cfg = SyntheticConfig(num_samples=600)
    return cfg, generate(cfg, np.arange(cfg.num_samples))


# ----------------------------------------------------------------------------- determinism


def test_same_seed_identical_different_seed_differs():
    cfg = SyntheticConfig(num_samples=40, seed=3)
    a = generate(cfg, range(40))
    b = generate(SyntheticConfig(num_samples=40, seed=3), range(40))
    for x, y in zip(a, b):
        assert x.sample_id == y.sample_id
        assert np.array_equal(x.joints, y.joints) and np.array_equal(x.present, y.present)
        assert x.extra == y.extra
    c = generate(SyntheticConfig(num_samples=40, seed=4), range(40))
    assert sum(x.joints.shape != z.joints.shape or not np.allclose(x.joints, z.joints) for x, z in zip(a, c)) == 40
    # The metadata design does not depend on the seed; the motion does.
    assert [x.label for x in a] == [z.label for z in c]


def test_chunks_are_independent_of_grouping_and_workers():
    cfg = SyntheticConfig(num_samples=100, two_person_prob=0.5)
    whole = generate(cfg, np.arange(100))
    pieces = generate(cfg, np.arange(60, 75)) + generate(cfg, [3]) + generate(cfg, np.arange(99, 49, -1))
    ref = {int(s.source.rsplit("=", 1)[1]): s for s in whole}
    for s in pieces:
        r = ref[int(s.source.rsplit("=", 1)[1])]
        assert s.sample_id == r.sample_id
        assert np.array_equal(s.joints, r.joints) and np.array_equal(s.present, r.present)
        assert np.array_equal(s.body_ids, r.body_ids)
    # Readers with different chunk sizes, read in any order, give the same samples.
    small = get_reader("synthetic", num_samples=100, chunk_size=7, two_person_prob=0.5)
    big = get_reader("synthetic", num_samples=100, chunk_size=64, two_person_prob=0.5)
    a = [s for item in reversed(small.discover(None)) for s in small.read(item)]
    b = [s for item in big.discover(None) for s in big.read(item)]
    a.sort(key=lambda s: s.source)
    b.sort(key=lambda s: s.source)
    assert len(a) == len(b) == 100
    for x, y in zip(a, b):
        assert np.array_equal(x.joints, y.joints)


# ----------------------------------------------------------------------------- shapes, layouts, coordinates


@pytest.mark.parametrize("layout,joints", [("ntu25", 25), ("kinect20", 20)])
def test_shapes_for_both_layouts(layout, joints):
    cfg = SyntheticConfig(num_samples=50, layout=layout, min_length=30, max_length=90, two_person_prob=0.3)
    seqs = generate(cfg, range(50))
    assert len(get_layout(layout).joint_names) == joints
    for s in seqs:
        assert s.layout == layout
        assert s.joints.dtype == np.float32 and s.joints.ndim == 4
        n_bodies, t, v, c = s.joints.shape
        assert n_bodies in (1, 2) and 30 <= t <= 90 and v == joints and c == 3
        assert s.present.shape == (n_bodies, t) and s.present.dtype == bool
        assert s.body_ids.shape == (n_bodies, t)
        assert np.isfinite(s.joints).all()
    assert {s.joints.shape[0] for s in seqs} == {1, 2}


def test_kinect20_is_the_ntu25_skeleton_subset():
    a = generate(SyntheticConfig(num_samples=12, layout="ntu25"), range(12))
    b = generate(SyntheticConfig(num_samples=12, layout="kinect20"), range(12))
    for x, y in zip(a, b):
        assert np.array_equal(x.joints[:, :, list(KINECT20_FROM_NTU25)], y.joints)
    ntu, k20 = get_layout("ntu25"), get_layout("kinect20")
    for k, j in enumerate(KINECT20_FROM_NTU25):
        # Same body part (kinect20 names its centre joints hip_center / spine / shoulder_center).
        assert ntu.joint_names[j].split("_")[0] in k20.joint_names[k] or k in (0, 1, 2)


def test_kinect_like_camera_coordinates(default_set):
    _, seqs = default_set
    lay = get_layout("ntu25")
    head, foot = lay.role("head"), lay.role("left_foot")
    standing = []
    for s in seqs:
        j = s.joints[0][s.present[0]]
        depth = j[:, lay.role("spine_base"), 2]
        assert 1.8 < depth.min() and depth.max() < 4.5  # metres from the sensor
        # y is up: the head stays above the feet, even in a bow mixed with a squat.
        assert (j[:, head, 1] - j[:, foot, 1]).min() > 0.1
        standing.append(np.median(j[:, head, 1] - j[:, foot, 1]))
    assert 1.3 < np.median(standing) < 1.8  # adult stature, head joint to foot joint


@pytest.mark.parametrize("layout", ["ntu25", "kinect20"])
def test_bone_lengths_constant_within_a_sample(layout):
    lay = get_layout(layout)
    bones = np.array(lay.bones)
    hand = lay.role("right_hand")
    for difficulty in (0.0, 0.5):
        # Sensor noise per coordinate (documented: 3 mm + 17 mm x difficulty, x1.5 at the
        # extremities); a bone length then varies by about sqrt(2) x that.
        sigma = 0.003 + 0.017 * difficulty
        cfg = SyntheticConfig(num_samples=60, layout=layout, difficulty=difficulty, two_person_prob=0.0)
        spreads, moves = [], []
        for s in generate(cfg, range(60)):
            j = s.joints[0][s.present[0]].astype(np.float64)
            length = np.linalg.norm(j[:, bones[:, 0]] - j[:, bones[:, 1]], axis=-1)  # (T, bones)
            spread = robust_std(length, axis=0)
            assert spread.max() < 4 * np.sqrt(2) * 1.5 * sigma, (difficulty, s.sample_id)
            spreads.append(np.median(spread))
            moves.append(np.linalg.norm(j[:, hand] - j[:, 0], axis=-1).std())
        assert np.median(spreads) < 1.5 * np.sqrt(2) * sigma
        # ... while the joints themselves move by much more than that.
        assert np.median(moves) > 5 * np.median(spreads)
    # Body proportions differ between subjects but are fixed for one subject.
    cfg = SyntheticConfig(num_samples=200, layout=layout, difficulty=0.0, two_person_prob=0.0)
    seqs = generate(cfg, range(200))
    thigh = [lay.joint("knee_left"), lay.joint("hip_left")]
    per_sample = {}
    for s in seqs:
        j = s.joints[0][s.present[0]]
        per_sample.setdefault(s.subject, []).append(np.median(np.linalg.norm(j[:, thigh[0]] - j[:, thigh[1]], axis=-1)))
    means = np.array([np.mean(v) for v in per_sample.values()])
    spread_within = max(np.ptp(v) for v in per_sample.values())
    assert 0.3 < means.min() and means.max() < 0.55
    assert np.ptp(means) > 2 * spread_within


# ----------------------------------------------------------------------------- labels and metadata


def test_class_balance_and_all_classes_present():
    cfg = SyntheticConfig(num_samples=2000)
    design = sample_design(cfg, np.arange(2000))
    assert np.bincount(design["label"]).tolist() == [200] * 10
    full = SyntheticConfig(num_samples=300, num_classes=MAX_CLASSES)
    seqs = generate(full, range(300))
    counts = np.bincount([s.label for s in seqs], minlength=MAX_CLASSES)
    assert counts.tolist() == [20] * MAX_CLASSES
    assert {s.extra["class_name"] for s in seqs} == set(CLASS_NAMES)
    # An odd size stays balanced to within one sample.
    odd = np.bincount(sample_design(SyntheticConfig(num_samples=1234), np.arange(1234))["label"])
    assert odd.max() - odd.min() <= 1


def test_metadata_design_and_views(default_set):
    cfg, seqs = default_set
    subjects = np.array([s.subject for s in seqs])
    views = np.array([s.view for s in seqs])
    assert set(subjects.tolist()) == set(range(1, 21))
    assert set(views.tolist()) == {1, 2, 3}
    assert {s.setup for s in seqs} >= {1} and min(s.replication for s in seqs) == 1
    assert len({s.sample_id for s in seqs}) == len(seqs)
    # Each camera has its own yaw range.
    yaw = np.array([s.extra["camera_yaw_deg"] for s in seqs])
    assert np.abs(yaw[views == 1]).max() < 20
    assert yaw[views == 2].min() > 25 and yaw[views == 3].max() < -25


def test_protocols_xsub_and_xview(default_set):
    cfg, seqs = default_set
    reader = get_reader("synthetic", num_samples=cfg.num_samples)
    meta = {k: np.array([s.meta()[k] for s in seqs]) for k in ("subject", "view", "label")}
    protocols = reader.protocols(meta, None)
    assert set(protocols) == {"xsub", "xview"}
    for parts in protocols.values():
        assert sorted(np.concatenate([parts["train"], parts["test"]]).tolist()) == list(range(len(seqs)))
    train_subj = set(meta["subject"][protocols["xsub"]["train"]].tolist())
    test_subj = set(meta["subject"][protocols["xsub"]["test"]].tolist())
    assert not train_subj & test_subj and len(train_subj) == len(test_subj) == 10
    assert set(meta["view"][protocols["xview"]["test"]].tolist()) == {3}
    assert set(meta["view"][protocols["xview"]["train"]].tolist()) == {1, 2}
    assert abs(len(protocols["xsub"]["train"]) - len(protocols["xsub"]["test"])) <= len(seqs) * 0.05


# ----------------------------------------------------------------------------- second person, dropped frames


def test_two_person_samples_have_present_masks():
    cfg = SyntheticConfig(num_samples=60, two_person_prob=1.0, drop_frame_prob=0.0)
    seqs = generate(cfg, range(60))
    kinds = set()
    for s in seqs:
        assert s.joints.shape[0] == 2
        kinds.add(s.extra["second_person"])
        assert s.present[0].all()  # no drops: the actor is always there
        # Absent slots are exactly zero; present ones are not.
        assert (s.joints[~s.present] == 0).all()
        assert (np.abs(s.joints[s.present]).sum(-1) > 0).all()
        assert np.array_equal(s.body_ids, np.where(s.present, [[1], [2]], 0))
        if s.extra["second_person"] == "interacting":
            assert s.present[1].all()
        # The two people stand apart.
        both = s.present.all(0)
        gap = np.linalg.norm(s.joints[0, both, 0] - s.joints[1, both, 0], axis=-1)
        assert gap.min() > 0.5
    assert kinds == {"interacting", "bystander"}
    assert any(not s.present[1].all() for s in seqs)  # bystanders walk in or out
    none = generate(SyntheticConfig(num_samples=30, two_person_prob=0.0), range(30))
    assert all(s.joints.shape[0] == 1 and s.extra["second_person"] == "none" for s in none)
    rate = np.mean([s.joints.shape[0] == 2 for s in generate(SyntheticConfig(num_samples=400), range(400))])
    assert 0.08 < rate < 0.24  # default two_person_prob 0.15


def test_dropped_frames_are_missing_and_counted():
    cfg = SyntheticConfig(num_samples=200, drop_frame_prob=0.1, two_person_prob=0.3)
    seqs = generate(cfg, range(200))
    dropped = total = 0
    for s in seqs:
        missing = ~s.present.any(0)
        assert s.extra["dropped_frames"] == int((~s.present[0]).sum()) == int(missing.sum())
        assert (s.joints[:, missing] == 0).all()
        assert s.present[0].any()
        dropped += s.extra["dropped_frames"]
        total += s.num_frames
    assert 0.06 < dropped / total < 0.14
    clean = generate(SyntheticConfig(num_samples=50, drop_frame_prob=0.0), range(50))
    assert all(s.extra["dropped_frames"] == 0 and s.present[0].all() for s in clean)


# ----------------------------------------------------------------------------- difficulty


def test_classes_are_separable_but_not_trivially(default_set):
    cfg, seqs = default_set
    acc = nearest_centroid_accuracy(seqs, cfg.num_classes)
    chance = 1.0 / cfg.num_classes
    assert chance + 0.25 < acc < 0.95, acc


def test_difficulty_orders_accuracy():
    acc = {}
    for d in (0.1, 0.9):
        cfg = SyntheticConfig(num_samples=400, difficulty=d)
        acc[d] = nearest_centroid_accuracy(generate(cfg, range(400)), cfg.num_classes)
    assert acc[0.1] > acc[0.9] + 0.2, acc


# ----------------------------------------------------------------------------- reader, options, speed


def test_reader_discover_read_and_errors():
    reader = get_reader("synthetic", num_samples=50, num_classes=12, layout="kinect20", chunk_size=16)
    items = reader.discover(None)
    assert items == ["synthetic:0", "synthetic:1", "synthetic:2", "synthetic:3"]
    seqs = [s for item in items for s in reader.read(item)]
    assert len(seqs) == 50 and reader.layout == "kinect20"
    assert len(reader.class_names) == 12 and reader.class_names[0] == "wave right hand"
    assert reader.options["num_classes"] == 12
    for bad in ("synthetic:4", "synthetic:x", "/data/a.json"):
        with pytest.raises(SkeletonFileError):
            reader.read(bad)
    for options in ({"num_classes": 1}, {"num_classes": MAX_CLASSES + 1}, {"layout": "openpose18"},
                    {"difficulty": 1.5}, {"min_length": 50, "max_length": 40}, {"num_samples": 0},
                    {"seed": -1}, {"drop_frame_prob": 0.9}):
        with pytest.raises(ValueError):
            get_reader("synthetic", **options)


def test_prepare_pipeline_smoke(tmp_path):
    from skelssl.data.canonical import open_prepared
    from skelssl.data.prepare import prepare_dataset

    summary = prepare_dataset("synthetic", tmp_path / "syn", reader_options={"num_samples": 40},
                              workers=1, progress=False)
    assert summary.samples_kept == 40
    ds = open_prepared(tmp_path / "syn")
    assert ds.info["num_classes"] == 10 and ds.info["layout"] == "ntu25"
    assert len(ds.split("xsub", "train")) + len(ds.split("xsub", "test")) == 40


def test_generation_speed():
    cfg = SyntheticConfig(num_samples=500)
    start = time.perf_counter()
    seqs = generate(cfg, range(500))
    elapsed = time.perf_counter() - start
    assert len(seqs) == 500
    assert elapsed < 5.0, f"500 samples took {elapsed:.1f} s"
