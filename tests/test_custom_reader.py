"""The "bring your own data" reader against the format documented in docs/own-data.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelssl.data.layouts import get_layout
from skelssl.data.readers import get_reader
from skelssl.data.types import SkeletonFileError

TRI = {
    "name": "test_tri3",
    "joint_names": ["hip", "left_hand", "right_hand"],
    "bones": [[1, 0], [2, 0]],
    "center": 0,
    "mirror_pairs": [[1, 2]],
    "channels": ["x", "y"],
    "roles": {"spine_base": 0, "left_hand": 1, "right_hand": 2},
}

CSV = (
    "sample_id,label,subject,view,split_xsub,split_fold1\n"
    "walk_01,0,1,2,train,test\n"
    "wave_01,wave,2,,test,train\n"
    "walk_02,,3,1,train,\n"
)


def seq(t: int, m: int | None, seed: float) -> np.ndarray:
    a = (np.arange(t * 3 * 2, dtype=np.float32).reshape(t, 3, 2) + seed) / 8
    return a if m is None else np.stack([a + 100 * k for k in range(m)])


def make_dir(root: Path, table: str = CSV, layout=TRI, **extra) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps({"layout": layout, "num_classes": 2,
                                                   "class_names": ["walk", "wave"], **extra}))
    (root / "samples.csv").write_text(table)
    return root


@pytest.fixture
def per_file(tmp_path: Path) -> Path:
    root = make_dir(tmp_path / "mine")
    (root / "skeletons").mkdir()
    np.save(root / "skeletons" / "walk_01.npy", seq(4, None, 1.0))  # (T, V, C)
    two = seq(5, 2, 2.0)
    two[1, 3:] = 0.0  # second person leaves after frame 2
    np.save(root / "skeletons" / "wave_01.npy", two)  # (M, T, V, C)
    np.save(root / "skeletons" / "walk_02.npy", seq(3, None, 3.0).astype(np.float64))
    return root


def test_per_sample_files(per_file: Path) -> None:
    reader = get_reader("custom")
    items = reader.discover(per_file)
    assert [Path(i).name for i in items] == ["walk_01.npy", "wave_01.npy", "walk_02.npy"]
    assert reader.layout == "test_tri3" and reader.class_names == ("walk", "wave") and reader.num_classes == 2
    seqs = [s for i in items for s in reader.read(i)]
    a, b, c = seqs
    assert (a.sample_id, a.label, a.subject, a.view, a.setup, a.replication) == ("walk_01", 0, 1, 2, -1, -1)
    assert (b.sample_id, b.label, b.subject, b.view) == ("wave_01", 1, 2, -1)
    assert (c.sample_id, c.label, c.subject, c.view) == ("walk_02", -1, 3, 1)
    assert a.joints.shape == (1, 4, 3, 2) and a.layout == "test_tri3"
    np.testing.assert_array_equal(a.joints[0], seq(4, None, 1.0))
    expected = seq(5, 2, 2.0)
    expected[1, 3:] = 0.0
    np.testing.assert_array_equal(b.joints, expected)
    assert b.present.tolist() == [[True] * 5, [True, True, True, False, False]]
    assert c.joints.dtype == np.float32
    assert get_layout("test_tri3").mirror_pairs == ((1, 2),)


def test_protocols_from_split_columns(per_file: Path) -> None:
    reader = get_reader("custom")
    meta = {"sample_id": np.array(["walk_02", "walk_01", "wave_01"])}
    splits = reader.protocols(meta, per_file)
    assert sorted(splits) == ["fold1", "xsub"]
    np.testing.assert_array_equal(splits["xsub"]["train"], [0, 1])
    np.testing.assert_array_equal(splits["xsub"]["test"], [2])
    np.testing.assert_array_equal(splits["fold1"]["train"], [2])
    np.testing.assert_array_equal(splits["fold1"]["test"], [1])


def test_json_table_and_builtin_layout(tmp_path: Path) -> None:
    root = tmp_path / "k20"
    root.mkdir()
    (root / "dataset.json").write_text(json.dumps({"layout": "kinect20", "num_classes": 3}))
    (root / "samples.json").write_text(json.dumps([
        {"sample_id": "s1", "label": 2, "setup": 4, "replication": 1, "split_cv": "train"},
        {"sample_id": "s2", "label": 0, "split_cv": None},
    ]))
    (root / "skeletons").mkdir()
    np.save(root / "skeletons" / "s1.npy", np.ones((6, 20, 3), dtype=np.float32))
    np.save(root / "skeletons" / "s2.npy", np.ones((2, 6, 20, 3), dtype=np.float32))
    reader = get_reader("custom")
    s1, s2 = (s for i in reader.discover(root) for s in reader.read(i))
    assert (s1.label, s1.setup, s1.replication, s1.layout, s1.joints.shape) == (2, 4, 1, "kinect20", (1, 6, 20, 3))
    assert s2.joints.shape == (2, 6, 20, 3)
    splits = reader.protocols({"sample_id": np.array(["s1", "s2"])}, root)
    assert splits["cv"]["train"].tolist() == [0] and splits["cv"]["test"].tolist() == []


@pytest.mark.parametrize("order", ["NMTVC", "NCTVM"])
def test_single_array(tmp_path: Path, order: str) -> None:
    root = make_dir(tmp_path / order, array_order=order)
    data = np.zeros((3, 2, 6, 3, 2), dtype=np.float32)  # N, M, T, V, C
    data[0, 0, :4] = seq(4, None, 1.0)
    data[1, :, :5] = seq(5, 2, 2.0)
    data[2, 0, :3] = seq(3, None, 3.0)
    data[2, 1, 1] = 7.0  # second body only in frame 1
    stored = data if order == "NMTVC" else data.transpose(0, 4, 2, 3, 1)
    np.save(root / "skeletons.npy", stored)
    reader = get_reader("custom")
    items = reader.discover(root)
    assert items == [f"{root / 'skeletons.npy'}::{i}" for i in range(3)]
    seqs = [s for i in items for s in reader.read(i)]
    # Trailing all-zero frames are padding and are dropped.
    assert [s.joints.shape for s in seqs] == [(2, 4, 3, 2), (2, 5, 3, 2), (2, 3, 3, 2)]
    np.testing.assert_array_equal(seqs[0].joints, data[0, :, :4])
    np.testing.assert_array_equal(seqs[1].joints, data[1, :, :5])
    assert seqs[0].present.tolist() == [[True] * 4, [False] * 4]
    assert seqs[2].present.tolist() == [[True] * 3, [False, True, False]]
    assert [s.sample_id for s in seqs] == ["walk_01", "wave_01", "walk_02"]


def test_inline_layout_is_idempotent_and_conflicts_are_named(tmp_path: Path) -> None:
    a = make_dir(tmp_path / "a")
    b = make_dir(tmp_path / "b")
    (a / "skeletons").mkdir()
    (b / "skeletons").mkdir()
    get_reader("custom").discover(a)
    get_reader("custom").discover(b)
    c = make_dir(tmp_path / "c", layout={**TRI, "center": 1, "bones": [[0, 1], [2, 1]]})
    (c / "skeletons").mkdir()
    with pytest.raises(SkeletonFileError, match="already registered with a different definition") as err:
        get_reader("custom").discover(c)
    assert "dataset.json" in str(err.value)


# ------------------------------------------------------------------ bad input
def _error(reader, item: str) -> SkeletonFileError:
    with pytest.raises(SkeletonFileError) as err:
        reader.read(item)
    return err.value


def test_missing_file_named_in_table(per_file: Path) -> None:
    (per_file / "skeletons" / "wave_01.npy").unlink()
    reader = get_reader("custom")
    items = reader.discover(per_file)
    err = _error(reader, items[1])
    assert err.reason == "missing" and "wave_01.npy" in str(err) and "samples.csv line 3" in str(err)


def test_shape_mismatches_nan_empty_and_pickle(per_file: Path) -> None:
    reader = get_reader("custom")
    items = reader.discover(per_file)
    target = per_file / "skeletons" / "walk_01.npy"
    cases = [
        (np.ones((4, 5, 2), dtype=np.float32), "wrong_joint_count"),
        (np.ones((4, 3, 3), dtype=np.float32), "wrong_channel_count"),
        (np.ones((4, 3), dtype=np.float32), "bad_shape"),
        (np.zeros((0, 3, 2), dtype=np.float32), "empty"),
        (np.zeros((4, 3, 2), dtype=np.float32), "empty"),
        (np.full((4, 3, 2), np.nan, dtype=np.float32), "non_finite"),
    ]
    for array, reason in cases:
        np.save(target, array)
        err = _error(reader, items[0])
        assert err.reason == reason, (reason, err)
        assert "walk_01.npy" in str(err) and "line 2" in str(err)
    np.save(target, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert _error(reader, items[0]).reason == "malformed"
    target.write_bytes(target.read_bytes()[:20])
    assert _error(reader, items[0]).reason == "truncated"


def test_single_array_row_errors(tmp_path: Path) -> None:
    root = make_dir(tmp_path / "arr")
    data = np.ones((3, 1, 4, 3, 2), dtype=np.float32)
    data[1, 0, 2, 1, 0] = np.inf
    np.save(root / "skeletons.npy", data)
    reader = get_reader("custom")
    err = _error(reader, reader.discover(root)[1])
    assert err.reason == "non_finite" and "skeletons.npy" in str(err) and "row 1: wave_01" in str(err)
    np.save(root / "skeletons.npy", data[:2])
    with pytest.raises(SkeletonFileError, match="2 samples in the array but 3 records"):
        get_reader("custom").discover(root)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("sample_id,label\nx,5\n", "outside 0..1"),
        ("sample_id,label\nx,run\n", "neither an integer nor one of class_names"),
        ("sample_id,label,split_a\nx,0,val\n", "split_a must be 'train', 'test' or empty"),
        ("sample_id,label\nx,0\nx,1\n", "duplicate sample_id"),
        ("sample_id,label\n../x,0\n", "not usable as a file name"),
        ("sample_id,label,subject\nx,0,two\n", "'subject' must be an integer"),
        ("sample_id\nx\n", "missing required column 'label'"),
        ("sample_id,label\n", "no records"),
    ],
)
def test_bad_tables_name_the_row(tmp_path: Path, table: str, message: str) -> None:
    root = make_dir(tmp_path / "t", table=table)
    (root / "skeletons").mkdir()
    with pytest.raises(SkeletonFileError, match=message) as err:
        get_reader("custom").discover(root)
    assert "samples.csv" in str(err.value)


def test_missing_metadata_files(tmp_path: Path) -> None:
    root = tmp_path / "none"
    root.mkdir()
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        get_reader("custom").discover(root)
    make_dir(root)
    with pytest.raises(FileNotFoundError, match="skeletons"):
        get_reader("custom").discover(root)
