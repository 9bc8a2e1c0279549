"""Kinetics-skeleton reader against format-exact fixtures of the ST-GCN release."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelssl.data.readers import get_reader
from skelssl.data.readers.kinetics import select_most_confident
from skelssl.data.types import SkeletonFileError


def person(k: float, score: float | None = None) -> dict:
    """A skeleton entry: pose [x0, y0, x1, y1, ...] (36 numbers), score (18 numbers)."""
    xs = [round(0.01 * j + k, 3) for j in range(18)]
    ys = [round(0.5 - 0.01 * j + k, 3) for j in range(18)]
    pose = [v for pair in zip(xs, ys) for v in pair]
    s = [round(score if score is not None else 0.05 * (j % 10) + 0.1, 3) for j in range(18)]
    return {"pose": pose, "score": s}


def write_video(path: Path, frames: list[dict], label: str = "abseiling", label_index: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": frames, "label": label, "label_index": label_index}))


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "kinetics-skeleton"
    frames_a = [
        {"frame_index": 1, "skeleton": [person(0.1), person(0.2)]},
        {"frame_index": 2, "skeleton": [person(0.01 * i) for i in range(6)]},
        # frame 3 is missing from the file
        {"frame_index": 4, "skeleton": [person(0.3)]},
    ]
    write_video(root / "kinetics_train" / "vid_a.json", frames_a)
    write_video(root / "kinetics_train" / "vid_b.json", [], label="abseiling", label_index=0)
    write_video(root / "kinetics_val" / "vid_c.json", [{"frame_index": 1, "skeleton": [person(0.4)]}],
                label="zumba", label_index=399)
    (root / "kinetics_train_label.json").write_text(json.dumps({
        "vid_a": {"has_skeleton": True, "label": "abseiling", "label_index": 0},
        "vid_b": {"has_skeleton": False, "label": "abseiling", "label_index": 0},
    }))
    (root / "kinetics_val_label.json").write_text(json.dumps({
        "vid_c": {"has_skeleton": True, "label": "zumba", "label_index": 399},
    }))
    return root


def test_discover_both_folders(raw: Path) -> None:
    items = get_reader("kinetics").discover(raw)
    assert [Path(i).relative_to(raw).as_posix() for i in items] == [
        "kinetics_train/vid_a.json", "kinetics_train/vid_b.json", "kinetics_val/vid_c.json"]


def test_read_slots_frames_and_values(raw: Path) -> None:
    reader = get_reader("kinetics")
    assert reader.layout == "openpose18" and reader.default_recipe == "stgcn_kinetics"
    (seq,) = reader.read(str(raw / "kinetics_train" / "vid_a.json"))
    assert seq.sample_id == "vid_a" and seq.label == 0 and seq.setup == 0 and seq.layout == "openpose18"
    assert seq.extra == {"label_name": "abseiling"}
    # 1-based frame_index -> T = 4; frame 2 lists 6 people, only 5 slots are kept.
    assert seq.joints.shape == (5, 4, 18, 3) and seq.joints.dtype == np.float32
    np.testing.assert_array_equal(seq.present, [
        [True, True, False, True],
        [True, True, False, False],
        [False, True, False, False],
        [False, True, False, False],
        [False, True, False, False],
    ])
    p = person(0.2)
    np.testing.assert_array_equal(seq.joints[1, 0, :, 0], np.float32(p["pose"][0::2]))
    np.testing.assert_array_equal(seq.joints[1, 0, :, 1], np.float32(p["pose"][1::2]))
    np.testing.assert_array_equal(seq.joints[1, 0, :, 2], np.float32(p["score"]))
    np.testing.assert_array_equal(seq.joints[4, 1, :, 0], np.float32(person(0.04)["pose"][0::2]))
    np.testing.assert_array_equal(seq.joints[0, 3, :, 1], np.float32(person(0.3)["pose"][1::2]))
    assert not seq.joints[:, 2].any()


def test_val_folder_and_protocol(raw: Path) -> None:
    reader = get_reader("kinetics")
    (seq,) = reader.read(str(raw / "kinetics_val" / "vid_c.json"))
    assert (seq.label, seq.setup, seq.joints.shape) == (399, 1, (1, 1, 18, 3))
    splits = reader.protocols({"setup": np.array([0, 1, 0, 1, 1])}, None)
    assert list(splits) == ["val"]
    np.testing.assert_array_equal(splits["val"]["train"], [0, 2])
    np.testing.assert_array_equal(splits["val"]["test"], [1, 3, 4])


def test_has_skeleton_false_is_skipped(raw: Path) -> None:
    item = raw / "kinetics_train" / "vid_b.json"
    with pytest.raises(SkeletonFileError) as err:
        get_reader("kinetics").read(str(item))
    assert err.value.reason == "no_skeleton" and str(item) in str(err.value)


def _error(item: Path, **options) -> SkeletonFileError:
    with pytest.raises(SkeletonFileError) as err:
        get_reader("kinetics", **options).read(str(item))
    assert str(item) in str(err.value)
    return err.value


def test_label_disagreement_and_range(raw: Path) -> None:
    item = raw / "kinetics_train" / "vid_a.json"
    write_video(item, [{"frame_index": 1, "skeleton": [person(0.1)]}], label_index=5)
    assert _error(item).reason == "bad_label"
    item = raw / "kinetics_train" / "vid_new.json"
    write_video(item, [{"frame_index": 1, "skeleton": [person(0.1)]}], label_index=400)
    assert _error(item).reason == "bad_label"


def test_malformed_files(raw: Path) -> None:
    item = raw / "kinetics_train" / "vid_x.json"
    item.write_text('{"data": [{"frame_index": 1, "skel')
    assert _error(item).reason == "truncated"
    short = person(0.1)
    short["pose"] = short["pose"][:34]
    write_video(item, [{"frame_index": 1, "skeleton": [short]}])
    assert _error(item).reason == "wrong_joint_count"
    write_video(item, [])
    assert _error(item).reason == "empty"
    nan = person(0.1)
    nan["score"][3] = float("nan")
    item.write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [nan]}], "label_index": 1}))
    assert _error(item).reason == "non_finite"
    write_video(item, [{"frame_index": 1}])
    assert _error(item).reason == "malformed"


def test_frame_base(raw: Path) -> None:
    item = raw / "kinetics_val" / "zero.json"
    write_video(item, [{"frame_index": 0, "skeleton": [person(0.1)]}, {"frame_index": 2, "skeleton": []}])
    (seq,) = get_reader("kinetics").read(str(item))
    assert seq.num_frames == 3 and seq.present.tolist() == [[True, False, False]]
    assert _error(item, frame_base=1).reason == "malformed"
    (seq,) = get_reader("kinetics", frame_base=0).read(str(item))
    assert seq.num_frames == 3


def test_frames_without_people(raw: Path) -> None:
    item = raw / "kinetics_val" / "nobody.json"
    write_video(item, [{"frame_index": 1, "skeleton": []}, {"frame_index": 3, "skeleton": []}])
    (seq,) = get_reader("kinetics").read(str(item))
    assert seq.joints.shape == (1, 3, 18, 3) and not seq.present.any()


def test_select_most_confident() -> None:
    joints = np.zeros((3, 2, 18, 3), dtype=np.float32)
    present = np.array([[True, True], [True, False], [True, True]])
    joints[0, :, :, 2] = 0.2
    joints[1, :, :, 2] = 0.9  # absent in frame 1: scores 0 there, like ST-GCN's zero-filled slots
    joints[2, :, :, 2] = [[0.5], [0.1]]
    joints[..., 0] = np.arange(3)[:, None, None]  # x marks the original slot
    out, keep = select_most_confident(joints, present, k=2)
    assert out.shape == (2, 2, 18, 3)
    assert out[:, 0, 0, 0].tolist() == [1, 2] and out[:, 1, 0, 0].tolist() == [0, 2]
    assert keep.tolist() == [[True, True], [True, True]]
    np.testing.assert_array_equal(out[:, 1, 0, 2], np.float32([0.2, 0.1]))
    # Ties (an absent slot vs a present person of score 0) keep slot order.
    tie = np.zeros((2, 1, 18, 3), dtype=np.float32)
    tie[1, 0, :, 0] = 5.0
    out, keep = select_most_confident(tie, np.array([[False], [True]]), k=1)
    assert keep.tolist() == [[False]] and not out.any()
    out, keep = select_most_confident(joints[:1], present[:1], k=2)
    assert out.shape == (2, 2, 18, 3) and keep.tolist() == [[True, True], [False, False]]
    assert not out[1].any()
