"""MSR Action3D, UTD-MHAD and UTKinect read into ``kinect20``: joint mappings checked on hand-made files.

Each fixture is written joint by joint *by name* in the release's own order,
copied here from the sources cited in ``docs/own-data.md``, so a wrong
mapping in the readers cannot agree with it by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.data.canonical import open_prepared
from skelssl.data.layouts import get_layout
from skelssl.data.prepare import prepare_dataset
from skelssl.data.readers import get_reader
from skelssl.data.types import SkeletonFileError

KINECT20 = get_layout("kinect20").joint_names

# MSR Action3D's order, as Vemulapalli et al.'s process_skeletal_data.m (Lie-group code, CVPR 2014) builds it
# from the Kinect SDK order: msr[k] = sdk[joints_order[k] - 1].
VEMULAPALLI_JOINTS_ORDER = [5, 9, 3, 2, 13, 17, 1, 6, 10, 7, 11, 8, 12, 14, 18, 15, 19, 16, 20, 4]
MSR_NATIVE = [KINECT20[i - 1] for i in VEMULAPALLI_JOINTS_ORDER]
# UTD-MHAD's documented joint order (dataset readme figure; listed in notha99y/Multimodal_human_actions).
UTD_NATIVE = ["head", "shoulder_center", "spine", "hip_center", "shoulder_left", "elbow_left", "wrist_left",
              "hand_left", "shoulder_right", "elbow_right", "wrist_right", "hand_right", "hip_left", "knee_left",
              "ankle_left", "foot_left", "hip_right", "knee_right", "ankle_right", "foot_right"]
# UTKinect stores the Kinect SDK order, which is kinect20's.
UTK_NATIVE = list(KINECT20)

POSE = {  # a standing person 3 m from the sensor, metres; every joint distinct
    "hip_center": (0.0, 0.0, 3.0), "spine": (0.0, 0.25, 3.02), "shoulder_center": (0.0, 0.5, 3.04),
    "head": (0.0, 0.72, 3.05), "shoulder_left": (-0.2, 0.48, 3.06), "elbow_left": (-0.3, 0.25, 3.07),
    "wrist_left": (-0.35, 0.02, 3.08), "hand_left": (-0.37, -0.05, 3.09), "shoulder_right": (0.2, 0.47, 3.1),
    "elbow_right": (0.31, 0.24, 3.11), "wrist_right": (0.36, 0.01, 3.12), "hand_right": (0.38, -0.06, 3.13),
    "hip_left": (-0.1, -0.05, 3.14), "knee_left": (-0.11, -0.5, 3.15), "ankle_left": (-0.12, -0.9, 3.16),
    "foot_left": (-0.13, -0.95, 2.9), "hip_right": (0.1, -0.06, 3.17), "knee_right": (0.11, -0.51, 3.18),
    "ankle_right": (0.12, -0.91, 3.19), "foot_right": (0.13, -0.96, 2.91),
}


def kinect20_frames(t: int, shift: float = 0.0) -> np.ndarray:
    """(T, 20, 3) in kinect20 order; frame k moves the right hand up by 1 cm per frame."""
    pose = np.array([POSE[name] for name in KINECT20], dtype=np.float64) + shift
    frames = np.repeat(pose[None], t, axis=0)
    frames[:, KINECT20.index("hand_right"), 1] += 0.01 * np.arange(t)
    return frames


def native(frames: np.ndarray, order: list[str]) -> np.ndarray:
    """The same frames stored in a release's own joint order (looked up by name)."""
    return frames[:, [KINECT20.index(name) for name in order]]


def test_native_orders_match_their_sources():
    from skelssl.data.readers.kinect_v1 import (MSR_ACTION3D_JOINTS, UTD_MHAD_JOINTS, UTKINECT_JOINTS,
                                                to_kinect20_order)

    assert list(MSR_ACTION3D_JOINTS) == MSR_NATIVE
    assert list(UTD_MHAD_JOINTS) == UTD_NATIVE
    assert list(UTKINECT_JOINTS) == UTK_NATIVE
    # kinect20[j] = msr[idx[j]]: the inverse of Vemulapalli's permutation.
    inverse = np.argsort(np.array(VEMULAPALLI_JOINTS_ORDER) - 1)
    np.testing.assert_array_equal(to_kinect20_order(MSR_ACTION3D_JOINTS), inverse)
    np.testing.assert_array_equal(to_kinect20_order(UTD_MHAD_JOINTS), [3, 2, 1, 0, *range(4, 20)])
    np.testing.assert_array_equal(to_kinect20_order(UTKINECT_JOINTS), np.arange(20))


# ---------------------------------------------------------------------------
# MSR Action3D


def write_msr(path: Path, frames_native: np.ndarray) -> Path:
    """20 lines of 'x y z confidence' per frame, as the *_skeleton3D.txt release writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{x:.6f} {y:.6f} {z:.6f} 0.000000" for frame in frames_native for x, y, z in frame]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_msr_action3d_reads_into_kinect20(tmp_path):
    raw = tmp_path / "MSRAction3DSkeletonReal3D"
    a = kinect20_frames(6)
    b = kinect20_frames(4, shift=0.1)
    write_msr(raw / "a03_s02_e01_skeleton3D.txt", native(a, MSR_NATIVE))
    write_msr(raw / "a20_s01_e03_skeleton3D.txt", native(b, MSR_NATIVE))
    (raw / "a03_s02_e01_skeleton.txt").write_text("1 2 3 4\n")  # screen coordinates: not read
    reader = get_reader("msr_action3d")
    items = reader.discover(raw)
    assert [Path(i).name for i in items] == ["a03_s02_e01_skeleton3D.txt", "a20_s01_e03_skeleton3D.txt"]
    (s,) = reader.read(items[0])
    assert (s.sample_id, s.label, s.subject, s.replication, s.layout) == ("a03_s02_e01", 2, 2, 1, "kinect20")
    np.testing.assert_allclose(s.joints[0], a, atol=1e-6)
    assert s.present.all() and reader.class_names[s.label] == "hammer"
    # End to end, single person.
    prepare_dataset("msr_action3d", tmp_path / "out", raw, workers=1, progress=False,
                    recipe_options={"num_bodies": 1})
    ds = open_prepared(tmp_path / "out")
    assert ds.data.shape == (2, 3, 50, 20, 1) and ds.meta["label"].tolist() == [2, 19]
    assert ds.split("xsub", "train").tolist() == [1] and ds.split("xsub", "test").tolist() == [0]


def test_msr_action3d_bad_files(tmp_path):
    reader = get_reader("msr_action3d")
    cut = write_msr(tmp_path / "a01_s01_e01_skeleton3D.txt", native(kinect20_frames(3), MSR_NATIVE))
    cut.write_text("\n".join(cut.read_text().splitlines()[:-5]) + "\n")
    with pytest.raises(SkeletonFileError, match="not a whole number of 20-joint frames") as err:
        reader.read(str(cut))
    assert err.value.reason == "truncated"
    mm = write_msr(tmp_path / "a01_s01_e02_skeleton3D.txt", 1000 * native(kinect20_frames(3), MSR_NATIVE))
    with pytest.raises(SkeletonFileError, match="not metres.*units=mm") as err:
        reader.read(str(mm))
    assert err.value.reason == "units"
    (s,) = get_reader("msr_action3d", units="mm").read(str(mm))
    np.testing.assert_allclose(s.joints[0], kinect20_frames(3), atol=1e-5)
    bad = write_msr(tmp_path / "a21_s01_e01_skeleton3D.txt", native(kinect20_frames(3), MSR_NATIVE))
    assert pytest.raises(SkeletonFileError, reader.read, str(bad)).value.reason == "bad_label"


# ---------------------------------------------------------------------------
# UTD-MHAD


def write_utd(path: Path, frames_native: np.ndarray) -> Path:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"d_skel": frames_native.transpose(1, 2, 0)})  # 20 x 3 x T, as the release stores it
    return path


def test_utd_mhad_reads_into_kinect20(tmp_path):
    raw = tmp_path / "Skeleton"
    a = kinect20_frames(5)
    write_utd(raw / "a27_s8_t4_skeleton.mat", native(a, UTD_NATIVE))
    write_utd(raw / "a1_s1_t1_skeleton.mat", native(kinect20_frames(7, 0.2), UTD_NATIVE))
    reader = get_reader("utd_mhad")
    items = reader.discover(raw)
    assert [Path(i).name for i in items] == ["a1_s1_t1_skeleton.mat", "a27_s8_t4_skeleton.mat"]
    (s,) = reader.read(items[1])
    assert (s.sample_id, s.label, s.subject, s.replication) == ("a27_s8_t4", 26, 8, 4)
    np.testing.assert_allclose(s.joints[0], a, atol=1e-6)
    assert reader.class_names[26] == "squat (two arms stretch out)"
    splits = reader.protocols({"subject": np.array([8, 1])}, raw)
    assert splits["xsub"]["train"].tolist() == [1] and splits["xsub"]["test"].tolist() == [0]


def test_utd_mhad_bad_files(tmp_path):
    from scipy.io import savemat

    reader = get_reader("utd_mhad")
    path = tmp_path / "a1_s1_t1_skeleton.mat"
    savemat(path, {"skel": np.zeros((20, 3, 4))})
    assert pytest.raises(SkeletonFileError, reader.read, str(path)).value.reason == "malformed"
    savemat(path, {"d_skel": np.ones((25, 3, 4))})
    assert pytest.raises(SkeletonFileError, reader.read, str(path)).value.reason == "wrong_joint_count"
    write_utd(path, native(kinect20_frames(4), UTD_NATIVE))
    path.write_bytes(path.read_bytes()[:150])
    err = pytest.raises(SkeletonFileError, reader.read, str(path)).value
    assert err.reason == "malformed" and str(path) in str(err)
    path.write_bytes(b"MATLAB 7.3 MAT-file" + bytes(200))
    assert pytest.raises(SkeletonFileError, reader.read, str(path)).value.reason == "malformed"
    zero = write_utd(tmp_path / "a2_s1_t1_skeleton.mat", np.zeros((3, 20, 3)))
    assert pytest.raises(SkeletonFileError, reader.read, str(zero)).value.reason == "empty"


# ---------------------------------------------------------------------------
# UTKinect-Action3D


def write_utk_joints(path: Path, frame_numbers: list[int], frames_native: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{n} " + " ".join(f"{v:.6f}" for v in frame.ravel()) for n, frame in zip(frame_numbers, frames_native)]
    path.write_text("\n".join(lines) + "\n")
    return path


LABELS = """s01_e01
walk: 10 12
sitDown: 13 14
standUp: NaN NaN
pickUp: 20 22
s02_e01
clapHands: 100 101
"""


def test_utkinect_reads_annotated_actions_into_kinect20(tmp_path):
    raw = tmp_path / "utkinect"
    a = kinect20_frames(6)
    # Frame 11 is listed twice (the release has such repeats): its first line is kept.
    write_utk_joints(raw / "joints" / "joints_s01_e01.txt", [10, 11, 11, 12, 13, 14], native(a, UTK_NATIVE))
    write_utk_joints(raw / "joints" / "joints_s02_e01.txt", [100, 101], native(kinect20_frames(2), UTK_NATIVE))
    (raw / "actionLabel.txt").write_text(LABELS)
    summary = prepare_dataset("utkinect", tmp_path / "out", raw, workers=1, progress=False,
                              recipe_options={"num_bodies": 1})
    # standUp is NaN (not annotated), pickUp's frames 20..22 are not in the file: both counted.
    assert summary.samples_kept == 3
    assert summary.skipped_by_reason == {"unannotated": 1, "empty_instance": 1}
    ds = open_prepared(tmp_path / "out")
    assert ds.meta["sample_id"].tolist() == ["s01_e01_walk", "s01_e01_sitDown", "s02_e01_clapHands"]
    assert ds.meta["label"].tolist() == [0, 1, 9] and ds.meta["length"].tolist() == [3, 2, 2]
    reader = get_reader("utkinect")
    items = reader.discover(raw)
    walk, sit = reader.read(items[0])
    np.testing.assert_allclose(walk.joints[0], a[[0, 1, 3]], atol=1e-6)
    np.testing.assert_allclose(sit.joints[0], a[4:], atol=1e-6)
    assert ds.split("xsub", "train").tolist() == [0, 1] and ds.split("xsub", "test").tolist() == [2]


@pytest.mark.parametrize(
    "labels, message",
    [
        ("s01_e01\nwalk 10 12\n", "line 2: expected 'sXX_eYY' or 'action: first last'"),
        ("s01_e01\nfly: 10 12\n", "line 2: unknown action 'fly'"),
        ("s01_e01\nwalk: 12 10\n", "line 2: bad frame range"),
        ("walk: 10 12\n", "line 1"),
    ],
)
def test_utkinect_bad_label_file_names_file_and_line(tmp_path, labels, message):
    raw = tmp_path / "utk"
    write_utk_joints(raw / "joints_s01_e01.txt", [10, 11], native(kinect20_frames(2), UTK_NATIVE))
    (raw / "actionLabel.txt").write_text(labels)
    with pytest.raises(SkeletonFileError, match=message) as err:
        prepare_dataset("utkinect", tmp_path / "out", raw, progress=False)
    assert str(raw / "actionLabel.txt") in str(err.value)
    assert not (tmp_path / "out").exists()


def test_utkinect_sequence_without_labels_and_missing_label_file(tmp_path):
    raw = tmp_path / "utk"
    write_utk_joints(raw / "joints_s03_e02.txt", [1, 2], native(kinect20_frames(2), UTK_NATIVE))
    with pytest.raises(FileNotFoundError, match="actionLabel.txt"):
        get_reader("utkinect").discover(raw)
    (raw / "actionLabel.txt").write_text(LABELS)
    reader = get_reader("utkinect")
    (item,) = reader.discover(raw)
    err = pytest.raises(SkeletonFileError, reader.read, item).value
    assert err.reason == "missing_labels" and "s03_e02" in str(err)
