"""PKU-MMD readers against format-exact fixtures of the phase 1 / phase 2 releases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.data.readers import get_reader
from skelssl.data.readers.pkummd import CLASS_NAMES, parse_number_rows, parse_split_file
from skelssl.data.types import SkeletonFileError

T = 12


def video_array(t: int = T, seed: float = 0.0) -> np.ndarray:
    """(T, 2, 25, 3) values exact in binary: body 2 only in frames 3..6, frame 9 empty."""
    tt, bb, jj, cc = np.meshgrid(np.arange(t), np.arange(2), np.arange(25), np.arange(3), indexing="ij")
    v = seed + tt + 0.5 * bb + jj / 32 + cc / 128 + 0.25
    v[:, 1] = 0.0
    v[3:7, 1] = (seed + tt + 0.5 + jj / 32 + cc / 128 + 0.25)[3:7, 1]
    v[9] = 0.0
    return v


def write_skeleton(path: Path, array: np.ndarray) -> None:
    """One line per frame, 150 space-separated numbers, as the release writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = array.reshape(len(array), -1)
    path.write_text("".join(" ".join(f"{x:.7f}" for x in row) + "\n" for row in rows))


def write_labels(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in rows))


LABELS_L = ["5,0,4,1", "12,3,7,2", "3,9,10,1", "51,10,12,1"]


@pytest.fixture
def phase1(tmp_path: Path) -> Path:
    raw = tmp_path / "pku"
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0002-L.txt", video_array())
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0002-M.txt", video_array(seed=100.0))
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0005-R.txt", video_array(seed=200.0))
    write_labels(raw / "Train_Label_PKU_final" / "0002-L.txt", LABELS_L)
    write_labels(raw / "Train_Label_PKU_final" / "0002-M.txt", ["1,0,3,1", "2,4,8,2"])
    write_labels(raw / "Train_Label_PKU_final" / "0005-R.txt", ["7,2,6,1"])
    split = raw / "Split"
    split.mkdir()
    # The release's exact shape: header, ids with ", " and a trailing comma, sic "Validataion".
    (split / "cross-subject.txt").write_text("Training videos: \n0002-L, 0002-M, \nValidataion videos: \n0005-R, \n")
    (split / "cross-view.txt").write_text("Training videos: \n0002-M, 0005-R, \nValidataion videos: \n0002-L, \n")
    return raw


def test_discover_lists_skeleton_files_only(phase1: Path) -> None:
    items = get_reader("pkummd1").discover(phase1)
    assert [Path(i).name for i in items] == ["0002-L.txt", "0002-M.txt", "0005-R.txt"]
    assert all(Path(i).parent.name == "PKU_Skeleton_Renew" for i in items)


def test_read_trims_instances_with_exclusive_end(phase1: Path) -> None:
    reader = get_reader("pkummd1")
    items = reader.discover(phase1)
    seqs = reader.read(items[0])
    video = video_array().transpose(1, 0, 2, 3).astype(np.float32)
    # Row 2 covers only frame 9, where no body is present: dropped, ids keep row numbers.
    assert [s.sample_id for s in seqs] == ["0002-L_000", "0002-L_001", "0002-L_003"]
    assert [s.label for s in seqs] == [4, 11, 50]
    bounds = [(s.extra["start"], s.extra["end"], s.extra["confidence"]) for s in seqs]
    assert bounds == [(0, 4, 1), (3, 7, 2), (10, 12, 1)]
    for s, (a, b) in zip(seqs, [(0, 4), (3, 7), (10, 12)]):
        assert s.joints.shape == (2, b - a, 25, 3)
        assert s.joints.dtype == np.float32
        np.testing.assert_array_equal(s.joints, video[:, a:b])
        assert s.view == 1 and s.subject == -1 and s.setup == -1 and s.layout == "ntu25"
        assert s.source == items[0]
        assert s.extra["video"] == "0002-L"
    # Body 2 appears in frames 3..6 only.
    np.testing.assert_array_equal(seqs[0].present, [[True] * 4, [False, False, False, True]])
    np.testing.assert_array_equal(seqs[1].present, [[True] * 4, [True] * 4])
    np.testing.assert_array_equal(seqs[2].present, [[True, True], [False, False]])
    assert seqs[0].joints[0, 0, 0, 0] == np.float32(0.25)
    assert seqs[0].joints[0, 2, 24, 2] == np.float32(2 + 24 / 32 + 2 / 128 + 0.25)


def test_views_and_class_names(phase1: Path) -> None:
    reader = get_reader("pkummd1")
    items = reader.discover(phase1)
    assert reader.read(items[1])[0].view == 2
    assert reader.read(items[2])[0].view == 3
    assert len(CLASS_NAMES) == 51 and reader.class_names[4] == "cheer up"


def test_untrimmed_frame_labels(phase1: Path) -> None:
    reader = get_reader("pkummd1")
    item = reader.discover(phase1)[0]
    seq = reader.untrimmed(item)
    assert seq.sample_id == "0002-L" and seq.label == -1 and seq.view == 1
    assert seq.joints.shape == (2, T, 25, 3)
    np.testing.assert_array_equal(seq.joints, video_array().transpose(1, 0, 2, 3).astype(np.float32))
    np.testing.assert_array_equal(seq.frame_labels, [4, 4, 4, 11, 11, 11, 11, -1, -1, 2, 50, 50])
    assert not seq.present[:, 9].any()


def test_read_in_a_fresh_reader_bound_to_raw(phase1: Path) -> None:
    # What a prepare worker does: no discover(), only bind(raw_dir).
    reader = get_reader("pkummd1")
    reader.bind(phase1)
    seqs = reader.read(str(phase1 / "PKU_Skeleton_Renew" / "0005-R.txt"))
    assert [(s.sample_id, s.label, s.num_frames) for s in seqs] == [("0005-R_000", 6, 4)]


def _meta(reader, raw: Path) -> dict[str, np.ndarray]:
    ids = [s.sample_id for item in reader.discover(raw) for s in reader.read(item)]
    return {"sample_id": np.array(ids)}


def test_official_splits(phase1: Path) -> None:
    reader = get_reader("pkummd1")
    meta = _meta(reader, phase1)
    assert list(meta["sample_id"]) == [
        "0002-L_000", "0002-L_001", "0002-L_003", "0002-M_000", "0002-M_001", "0005-R_000"]
    splits = reader.protocols(meta, phase1)
    np.testing.assert_array_equal(splits["xsub"]["train"], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(splits["xsub"]["test"], [5])
    np.testing.assert_array_equal(splits["xview"]["train"], [3, 4, 5])
    np.testing.assert_array_equal(splits["xview"]["test"], [0, 1, 2])


def test_split_dir_option_and_missing_split(phase1: Path, tmp_path: Path) -> None:
    meta = {"sample_id": np.array(["0002-L_000", "0005-R_000"])}
    moved = tmp_path / "lists"
    (phase1 / "Split").rename(moved)
    with pytest.raises(FileNotFoundError, match="cross-subject.txt"):
        get_reader("pkummd1").protocols(meta, phase1)
    splits = get_reader("pkummd1", split_dir=str(moved)).protocols(meta, phase1)
    np.testing.assert_array_equal(splits["xsub"]["test"], [1])


def test_parse_split_file_formats(tmp_path: Path) -> None:
    p = tmp_path / "cross_view.txt"
    p.write_text("Training videos: \r\n0002-L, 0002-M\r\nValidataion videos: \r\n0003-L\r\n")
    assert parse_split_file(p) == (["0002-L", "0002-M"], ["0003-L"])
    p.write_text("0002-L, 0002-M\n")
    with pytest.raises(ValueError, match="Training videos"):
        parse_split_file(p)


def test_phase2_naming_and_split_files(tmp_path: Path) -> None:
    raw = tmp_path / "v2"
    write_skeleton(raw / "skeleton" / "A01N01-L.txt", video_array())
    write_skeleton(raw / "skeleton" / "A01N02-R.txt", video_array(seed=3.0))
    write_skeleton(raw / "skeleton" / "0002-L.txt", video_array())  # phase 1 name: ignored
    write_labels(raw / "label" / "A01N01-L.txt", ["41,0,5,1"])
    write_labels(raw / "label" / "A01N02-R.txt", ["2,5,9,2"])
    (raw / "cross_subject_v2.txt").write_text("Training videos: \nA01N01-L, \nValidataion videos: \nA01N02-R, \n")
    (raw / "cross_view_v2.txt").write_text("Training videos: \nA01N02-R, \nValidataion videos: \nA01N01-L, \n")
    reader = get_reader("pkummd2")
    items = reader.discover(raw)
    assert [Path(i).name for i in items] == ["A01N01-L.txt", "A01N02-R.txt"]
    seqs = [s for i in items for s in reader.read(i)]
    assert [(s.sample_id, s.label, s.view, s.num_frames) for s in seqs] == [
        ("A01N01-L_000", 40, 1, 5), ("A01N02-R_000", 1, 3, 4)]
    splits = reader.protocols({"sample_id": np.array([s.sample_id for s in seqs])}, raw)
    np.testing.assert_array_equal(splits["xsub"]["train"], [0])
    np.testing.assert_array_equal(splits["xview"]["train"], [1])
    with pytest.raises(SkeletonFileError) as err:
        get_reader("pkummd1").read(items[0])
    assert err.value.reason == "bad_name"


# ------------------------------------------------------------------ bad input
def _broken(phase1: Path, text: str | None = None, labels: list[str] | None = None) -> tuple[Path, Path]:
    skel = phase1 / "PKU_Skeleton_Renew" / "0002-L.txt"
    lab = phase1 / "Train_Label_PKU_final" / "0002-L.txt"
    if text is not None:
        skel.write_text(text)
    if labels is not None:
        write_labels(lab, labels)
    return skel, lab


def _error(reader_name: str, item: Path, **options) -> SkeletonFileError:
    reader = get_reader(reader_name, **options)
    reader.bind(item.parents[1])  # the fixture's raw directory
    with pytest.raises(SkeletonFileError) as err:
        reader.read(str(item))
    return err.value


def test_truncated_last_line(phase1: Path) -> None:
    lines = phase1.joinpath("PKU_Skeleton_Renew", "0002-L.txt").read_text().splitlines()
    cut = "\n".join(lines[:-1]) + "\n" + " ".join(lines[-1].split()[:100])
    skel, _ = _broken(phase1, cut)
    err = _error("pkummd1", skel)
    assert err.reason == "truncated"
    assert str(skel) in str(err) and "line 12" in str(err) and "100" in str(err)


def test_short_row_inside_file(phase1: Path) -> None:
    lines = phase1.joinpath("PKU_Skeleton_Renew", "0002-L.txt").read_text().splitlines()
    lines[4] = " ".join(lines[4].split()[:147])
    skel, _ = _broken(phase1, "\n".join(lines) + "\n")
    err = _error("pkummd1", skel)
    assert err.reason == "wrong_joint_count" and "line 5" in str(err) and str(skel) in str(err)


def test_non_finite_and_non_numeric(phase1: Path) -> None:
    lines = phase1.joinpath("PKU_Skeleton_Renew", "0002-L.txt").read_text().splitlines()
    nan = list(lines)
    nan[2] = " ".join(["nan"] + nan[2].split()[1:])
    skel, _ = _broken(phase1, "\n".join(nan) + "\n")
    err = _error("pkummd1", skel)
    assert err.reason == "non_finite" and str(skel) in str(err)
    bad = list(lines)
    bad[6] = " ".join(["1.0x"] + bad[6].split()[1:])
    _broken(phase1, "\n".join(bad) + "\n")
    err = _error("pkummd1", skel)
    assert err.reason == "malformed" and "line 7" in str(err)


def test_empty_file(phase1: Path) -> None:
    skel, _ = _broken(phase1, "")
    assert _error("pkummd1", skel).reason == "empty"
    _broken(phase1, "\n\n")
    assert _error("pkummd1", skel).reason == "empty"


@pytest.mark.parametrize("row", ["52,0,4,1", "0,0,4,1", "5,6,2,1", "5,4,4,1", "5,3,13,1", "5,a,4,1", "5,0"])
def test_malformed_label_rows(phase1: Path, row: str) -> None:
    skel, lab = _broken(phase1, labels=["5,0,4,1", row])
    err = _error("pkummd1", skel)
    assert err.reason == "bad_label"
    assert str(lab) in str(err) and "line 2" in str(err)


def test_swap_reversed_option(phase1: Path) -> None:
    skel, _ = _broken(phase1, labels=["5,4,0,1"])
    reader = get_reader("pkummd1", swap_reversed=True)
    reader.bind(phase1)
    seqs = reader.read(str(skel))
    assert [(s.extra["start"], s.extra["end"]) for s in seqs] == [(0, 4)]


def test_missing_label_file(phase1: Path) -> None:
    skel, lab = _broken(phase1)
    lab.unlink()
    err = _error("pkummd1", skel)
    assert err.reason == "missing_labels" and "0002-L.txt" in str(err)


def test_parse_number_rows_tolerates_crlf_and_trailing_blank_lines() -> None:
    rows = parse_number_rows("x.txt", b"1 2 3\r\n4 5 6\r\n\r\n\n", 3)
    np.testing.assert_array_equal(rows, [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(SkeletonFileError, match="line 2 has 0 numbers"):
        parse_number_rows("x.txt", b"1 2 3\n\n4 5 6\n", 3)
