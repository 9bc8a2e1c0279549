"""NTU RGB+D 60/120 reader: exact parsing, error categories, missing-sample lists, protocols."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from skelssl.data.readers import get_reader
from skelssl.data.readers.ntu import (
    CLASS_NAMES,
    NTU60_TRAIN_SUBJECTS,
    NTU120_TRAIN_SUBJECTS,
    missing_skeleton_samples,
    parse_ntu_skeleton,
    parse_sample_name,
    read_ntu_skeleton,
    write_ntu_skeleton,
)
from skelssl.data.types import SkeletonFileError

# Two ids above 2**53 that differ by one: float64 cannot tell them apart.
ID_A = 72057594037927937
ID_B = 72057594037927938


def body_line(ident: int) -> str:
    return f"{ident} 0 1 1 1 1 0 0.02764709 0.05745083 2"


def joint_lines(seed: int, num_joints: int = 25) -> list[str]:
    """Joint lines whose x, y, z are distinct, sign-mixed 7-digit decimals."""
    out = []
    for j in range(num_joints):
        x = (-1) ** j * (0.1234567 + 0.0100003 * j + seed)
        y = 0.2181153 - 0.0312347 * j - seed
        z = 3.785547 + 0.001 * j + 0.1 * seed
        out.append(f"{x:.7g} {y:.7g} {z:.7g} 277.419 191.8218 1036.233 519.1677 -0.2059419 0.05349901 0.9692109 -0.1239193 2")
    return out


def frame(*bodies: tuple[int, int]) -> list[str]:
    lines = [str(len(bodies))]
    for ident, seed in bodies:
        lines += [body_line(ident), "25", *joint_lines(seed)]
    return lines


def skeleton_text(frames: list[list[str]], newline: str = "\n", trailing: bool = True) -> str:
    lines = [str(len(frames))] + [line for f in frames for line in f]
    return newline.join(lines) + (newline if trailing else "")


def reference_xyz(text: str) -> list[list[tuple[int, np.ndarray]]]:
    """Independent slow parse: per frame, a list of (bodyID, (25, 3) float32 xyz)."""
    lines = text.splitlines()
    pos = 1
    frames = []
    for _ in range(int(lines[0])):
        count = int(lines[pos])
        pos += 1
        bodies = []
        for _ in range(count):
            ident = int(lines[pos].split()[0])
            joints = int(lines[pos + 1])
            xyz = np.array([[float(v) for v in lines[pos + 2 + j].split()[:3]] for j in range(joints)])
            bodies.append((ident, xyz.astype(np.float32)))
            pos += 2 + joints
        frames.append(bodies)
    return frames


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def assert_matches_reference(seq_joints, present, body_ids, text):
    ref = reference_xyz(text)
    for t, bodies in enumerate(ref):
        for s in range(present.shape[0]):
            if s < len(bodies):
                assert present[s, t]
                assert body_ids[s, t] == bodies[s][0]
                np.testing.assert_array_equal(seq_joints[s, t], bodies[s][1])
            else:
                assert not present[s, t] and body_ids[s, t] == 0
                assert not seq_joints[s, t].any()


# ---------------------------------------------------------------------------
# Parsing


def test_multi_body_empty_frames_and_reappearing_body(tmp_path):
    # Frame 1: A and B; frame 2: nobody; frame 3: A only; frame 4: B then A (listing order wins).
    text = skeleton_text([frame((ID_A, 0), (ID_B, 1)), frame(), frame((ID_A, 2)), frame((ID_B, 3), (ID_A, 4))])
    path = write(tmp_path, "S001C002P003R002A013.skeleton", text)
    (seq,) = get_reader("ntu60").read(path)

    assert seq.joints.shape == (2, 4, 25, 3) and seq.joints.dtype == np.float32
    assert seq.present.tolist() == [[True, False, True, True], [True, False, False, True]]
    assert seq.body_ids.dtype == np.int64
    assert seq.body_ids.tolist() == [[ID_A, 0, ID_A, ID_B], [ID_B, 0, 0, ID_A]]
    assert seq.body_ids[1, 0] - seq.body_ids[0, 0] == 1  # exact, not via float
    assert_matches_reference(seq.joints, seq.present, seq.body_ids, text)
    # Spot-check one value against the literal text.
    assert seq.joints[0, 0, 0, 0] == np.float32(0.1234567) and seq.joints[1, 3, 0, 2] == np.float32(4.185547)
    assert not seq.joints[:, 1].any()

    assert (seq.sample_id, seq.setup, seq.view, seq.subject, seq.replication, seq.label) == (
        "S001C002P003R002A013", 1, 2, 3, 2, 12,
    )
    assert seq.layout == "ntu25" and seq.source == path and seq.extra == {}


def test_line_endings_and_missing_final_newline(tmp_path):
    frames = [frame((ID_A, 0)), frame((ID_A, 1), (ID_B, 2))]
    expected = parse_ntu_skeleton(skeleton_text(frames).encode())
    for text in (skeleton_text(frames, "\r\n"), skeleton_text(frames, trailing=False), skeleton_text(frames) + "\n\n  \n"):
        got = parse_ntu_skeleton(text.encode(), "x.skeleton")
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_values_match_float_exactly_for_every_number_form(tmp_path):
    rng = np.random.default_rng(0)
    joints = rng.normal(0.0, 0.8, size=(2, 30, 25, 3))
    joints[..., 2] += 3.0
    # Forms that take the slow path or stress the fast one: exponents, zeros,
    # integers, long fractions, large magnitudes.
    joints[0, 0, :8, 0] = [1.5e-05, -2.25e-07, 0.0, -0.0, 7.0, -12345.67, 0.000123, 1e-4]
    present = np.ones((2, 30), dtype=bool)
    path = write_ntu_skeleton(tmp_path / "S002C001P004R001A051.skeleton", joints, present, rng=rng)
    text = path.read_text()
    assert "E-05" in text and "E-07" in text
    parsed, got_present, ids, dropped = read_ntu_skeleton(path)
    assert dropped == 0 and got_present.all()
    assert_matches_reference(parsed, got_present, ids, text)
    # Hand-typed tokens of every shape, checked against float() on the same text.
    tokens = ["-0.2059419", "1036.233", "5.", ".5", "+3.25", "-.75", "0", "-0", "12345678901234", "-8.657599E-05",
              "1.234567e+3", "0.00000000000000000001234", "123456789012345678", "-1234567.1234567"]
    lines = [f"{a} {b} {c} 0 0 0 0 0 0 0 0 2" for a, b, c in zip(tokens[0::3], tokens[1::3], tokens[2::3] + ["1"] * 3)]
    lines = (lines * 25)[:25]
    text = "\n".join(["1", "1", body_line(ID_A), "25", *lines]) + "\n"
    joints, _, _, _ = parse_ntu_skeleton(text.encode())
    np.testing.assert_array_equal(joints[0, 0], reference_xyz(text)[0][0][1])
    assert np.signbit(joints[0, 0, 2, 1])  # "-0" keeps its sign, like float()


def test_more_bodies_than_slots_are_dropped_and_counted(tmp_path):
    text = skeleton_text([frame(*[(ID_A + k, k) for k in range(6)]), frame((ID_B, 9))])
    path = write(tmp_path, "S003C003P008R002A020.skeleton", text)
    (seq,) = get_reader("ntu120").read(path)
    assert seq.joints.shape[:2] == (4, 2) and seq.extra == {"dropped_bodies": 2}
    assert seq.body_ids[:, 0].tolist() == [ID_A, ID_A + 1, ID_A + 2, ID_A + 3]
    (seq,) = get_reader("ntu120", max_bodies=2).read(path)
    assert seq.joints.shape[0] == 2 and seq.extra == {"dropped_bodies": 4}


def test_writer_format(tmp_path):
    rng = np.random.default_rng(1)
    joints = rng.normal(size=(2, 3, 25, 3))
    present = np.array([[True, True, False], [False, True, True]])
    ids = np.array([[ID_A, ID_A, 0], [0, ID_B, ID_B]])
    path = write_ntu_skeleton(tmp_path / "S001C001P001R001A001.skeleton", joints, present, body_ids=ids, rng=rng)
    lines = path.read_text().splitlines()
    assert lines[0] == "3" and lines[1] == "1" and lines[3] == "25"
    body = lines[2].split()
    assert len(body) == 10 and body[0] == str(ID_A) and body[-1] == "2"
    joint = lines[4].split()
    assert len(joint) == 12 and joint[-1] in {"1", "2"}
    assert all(re.fullmatch(r"-?\d+(\.\d+)?(E[+-]\d\d)?", v) for v in joint[:11])
    w, x, y, z = (float(v) for v in joint[7:11])
    assert abs(w * w + x * x + y * y + z * z - 1.0) < 1e-5
    parsed, got_present, got_ids, _ = read_ntu_skeleton(path)
    # Slot 1 of frame 3 is the only body listed there, so it is read back into slot 0.
    assert got_present.tolist() == [[True, True, True], [False, True, False]]
    assert got_ids.tolist() == [[ID_A, ID_A, ID_B], [0, ID_B, 0]]
    np.testing.assert_allclose(parsed[0, :2], joints[0, :2], atol=1e-6)
    np.testing.assert_allclose(parsed[0, 2], joints[1, 2], atol=1e-6)


# ---------------------------------------------------------------------------
# Errors


def _error(path: str, reader: str = "ntu120") -> SkeletonFileError:
    with pytest.raises(SkeletonFileError) as info:
        get_reader(reader).read(path)
    err = info.value
    assert err.path == path and path in str(err)
    return err


GOOD = skeleton_text([frame((ID_A, 0)), frame((ID_A, 1), (ID_B, 2)), frame((ID_B, 3))])


@pytest.mark.parametrize(
    "cut, where",
    [
        (lambda t: t[: t.index("\n", len(t) // 2)], "line boundary inside a body"),
        (lambda t: t[: len(t) // 2], "inside a joint line"),
        (lambda t: t.rstrip("\n")[:-2], "inside the last joint line"),
        (lambda t: "\n".join(t.splitlines()[:-25]) + "\n", "whole last body"),
        (lambda t: "4" + t[1:], "fewer frames than announced"),
        (lambda t: "\n".join(t.splitlines()[:-26] + ["2"]) + "\n", "joint count cut short"),
    ],
)
def test_truncated(tmp_path, cut, where):
    path = write(tmp_path, "S010C001P007R001A021.skeleton", cut(GOOD))
    err = _error(path)
    assert err.reason == "truncated", (where, str(err))


def test_wrong_joint_count(tmp_path):
    text = skeleton_text([frame((ID_A, 0)), ["1", body_line(ID_A), "24", *joint_lines(1, 24)], frame((ID_A, 2))])
    err = _error(write(tmp_path, "S001C001P001R001A002.skeleton", text))
    assert err.reason == "wrong_joint_count" and "24 joints" in str(err)
    rng = np.random.default_rng(2)
    path = write_ntu_skeleton(tmp_path / "S001C001P001R001A003.skeleton", rng.normal(size=(1, 2, 20, 3)), np.ones((1, 2), bool))
    assert _error(str(path)).reason == "wrong_joint_count"


@pytest.mark.parametrize("bad", ["nan", "NaN", "-Infinity", "inf"])
def test_non_finite(tmp_path, bad):
    lines = GOOD.splitlines()
    fields = lines[39].split()  # frame 2, body 1, joint 8 (after "3", frame 1, "2", body line, "25")
    fields[1] = bad
    lines[39] = " ".join(fields)
    err = _error(write(tmp_path, "S001C001P001R001A004.skeleton", "\n".join(lines) + "\n"))
    assert err.reason == "non_finite" and "frame 2" in str(err) and "joint 8" in str(err)


def test_non_finite_outside_xyz_is_accepted(tmp_path):
    lines = GOOD.splitlines()
    fields = lines[5].split()
    fields[7] = "NaN"  # orientationW is not read
    lines[5] = " ".join(fields)
    (seq,) = get_reader("ntu120").read(write(tmp_path, "S001C001P001R001A005.skeleton", "\n".join(lines)))
    assert np.isfinite(seq.joints).all()


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "file is empty"),
        ("\n \n", "file is empty"),
        ("0\n", "frame count is 0"),
        ("3\n0\n0\n0\n", "no body in any of the 3 frames"),
    ],
)
def test_empty(tmp_path, text, problem):
    err = _error(write(tmp_path, "S001C002P005R002A008.skeleton", text))
    assert err.reason == "empty" and problem in str(err)


def _replace_line(index: int, new: str) -> str:
    lines = GOOD.splitlines()
    lines[index] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, needle",
    [
        (_replace_line(4, "0.1.2 0.5 3.1 1 1 1 1 0 0 0 1 2"), "is not a number"),
        (_replace_line(6, "0.1 0.2 3.0 1 1 x1 1 0 0 0 1 2"), "unexpected character"),
        (_replace_line(7, "0.1 0.2 3.0 1 1 1 1 0 0 0 1"), "should hold 12 values, found 11"),
        (_replace_line(2, "72057594037927937 0 1 1 1 1 0 0.1 2"), "should hold 10 values, found 9"),
        (_replace_line(2, "7.2e16 0 1 1 1 1 0 0.1 0.1 2"), "integer bodyID"),
        (_replace_line(1, "one"), "body count of frame 1"),
        ("10x\n", "frame count"),
        (_replace_line(8, "0.1 0.2 3.0 1 1 1 1 0 0 0 1 2 5"), "should hold 12 values, found 13"),
        (GOOD.replace("\n1\n" + body_line(ID_B), "\n\n1\n" + body_line(ID_B), 1), "body count"),
    ],
)
def test_malformed(tmp_path, text, needle):
    err = _error(write(tmp_path, "S001C001P001R001A006.skeleton", text))
    assert err.reason == "malformed" and needle in str(err), str(err)


def test_bad_name_and_out_of_range(tmp_path):
    for name in ["S001C002P003R002A13.skeleton", "sample.skeleton", "S001C002P003R002A013_extra.skeleton"]:
        assert _error(write(tmp_path, name, GOOD)).reason == "bad_name"
    err = _error(write(tmp_path, "S018C002P045R001A061.skeleton", GOOD), reader="ntu60")
    assert err.reason == "not_in_dataset"
    (seq,) = get_reader("ntu120").read(str(tmp_path / "S018C002P045R001A061.skeleton"))
    assert (seq.setup, seq.view, seq.subject, seq.replication, seq.label) == (18, 2, 45, 1, 60)


def test_unreadable(tmp_path):
    assert _error(str(tmp_path / "S001C001P001R001A001.skeleton")).reason == "unreadable"


# ---------------------------------------------------------------------------
# Missing-skeleton lists and discovery


def test_missing_lists_are_the_published_ones():
    m60, m120 = missing_skeleton_samples(60), missing_skeleton_samples(120)
    assert len(m60) == 302 and len(m120) == 535
    assert m60 <= m120
    assert all(parse_sample_name(n) is not None for n in m120)
    assert {n for n in m120 if parse_sample_name(n)[0] <= 17} == m60
    assert {"S001C002P005R002A008", "S017C003P020R001A059", "S019C001P046R001A075", "S032C003P067R002A077"} <= m120
    with pytest.raises(ValueError):
        missing_skeleton_samples(61)


def test_discover_excludes_listed_samples(tmp_path):
    raw = tmp_path / "nturgb+d_skeletons"
    (raw / "extra").mkdir(parents=True)
    names = {
        "S001C001P001R001A001": "kept by both",
        "S001C002P005R002A008": "NTU-60 list",
        "S019C001P046R001A075": "NTU-120 list",
        "S018C001P045R001A050": "kept by ntu120 only (setup 18)",
        "S001C001P001R001A061": "kept by ntu120 only (action 61)",
    }
    for i, name in enumerate(names):
        folder = raw / "extra" if i % 2 else raw
        write(folder, f"{name}.skeleton", GOOD)
    write(raw, "not_a_sample.skeleton", GOOD)
    write(raw, "S001C001P001R001A002.txt", GOOD)

    def stems(paths):
        return sorted(Path(p).stem for p in paths)

    r60, r120 = get_reader("ntu60"), get_reader("ntu120")
    assert stems(r60.discover(raw)) == ["S001C001P001R001A001", "not_a_sample"]
    assert stems(r120.discover(raw)) == [
        "S001C001P001R001A001", "S001C001P001R001A061", "S018C001P045R001A050", "not_a_sample",
    ]
    assert r60.discover(raw) == sorted(r60.discover(raw))
    assert {stems([k])[0]: v for k, v in r60.skipped_items(raw).items()} == {"S001C002P005R002A008": "missing_skeleton_list"}
    assert sorted(stems(r120.skipped_items(raw))) == ["S001C002P005R002A008", "S019C001P046R001A075"]
    assert set(r120.skipped_items(raw).values()) == {"missing_skeleton_list"}
    assert r120.skipped_items(None) == {}

    keep_all = get_reader("ntu120", ignore_missing_list=True)
    assert len(keep_all.discover(raw)) == 6 and keep_all.skipped_items(raw) == {}
    assert len(get_reader("ntu60", ignore_missing_list=True).discover(raw)) == 3


# ---------------------------------------------------------------------------
# Protocols


def _meta(subject, view, setup, label):
    n = len(subject)
    return {
        "sample_id": np.array([f"s{i}" for i in range(n)]),
        "label": np.asarray(label), "subject": np.asarray(subject), "view": np.asarray(view),
        "setup": np.asarray(setup), "replication": np.ones(n, int), "length": np.full(n, 80),
    }


def test_ntu60_protocols():
    subject = [1, 3, 38, 40, 2, 6]
    view = [1, 2, 3, 1, 2, 3]
    splits = get_reader("ntu60").protocols(_meta(subject, view, [1] * 6, [0, 5, 10, 20, 30, 59]), None)
    assert set(splits) == {"xsub", "xview"}
    assert splits["xsub"]["train"].tolist() == [0, 2, 4] and splits["xsub"]["test"].tolist() == [1, 3, 5]
    assert splits["xview"]["train"].tolist() == [1, 2, 4, 5] and splits["xview"]["test"].tolist() == [0, 3]
    assert splits["xsub"]["train"].dtype == np.int64
    assert len(NTU60_TRAIN_SUBJECTS) == 20 and len(set(NTU60_TRAIN_SUBJECTS)) == 20


def test_ntu120_protocols():
    subject = [1, 3, 103, 104, 45, 48, 2, 106]
    setup = [1, 2, 18, 31, 32, 17, 4, 3]
    label = [0, 59, 60, 119, 70, 100, 5, 80]
    splits = get_reader("ntu120").protocols(_meta(subject, [1] * 8, setup, label), None)
    assert set(splits) == {"xsub", "xset", "ntu61_120_xsub", "ntu61_120_xset"}
    assert splits["xsub"]["train"].tolist() == [0, 2, 4, 6] and splits["xsub"]["test"].tolist() == [1, 3, 5, 7]
    assert splits["xset"]["train"].tolist() == [1, 2, 4, 6] and splits["xset"]["test"].tolist() == [0, 3, 5, 7]
    assert splits["ntu61_120_xsub"]["train"].tolist() == [2, 4]
    assert splits["ntu61_120_xsub"]["test"].tolist() == [3, 5, 7]
    assert splits["ntu61_120_xset"]["train"].tolist() == [2, 4] and splits["ntu61_120_xset"]["test"].tolist() == [3, 5, 7]
    assert len(NTU120_TRAIN_SUBJECTS) == 53 and set(NTU60_TRAIN_SUBJECTS) < set(NTU120_TRAIN_SUBJECTS)
    assert max(NTU120_TRAIN_SUBJECTS) == 103


def test_class_names():
    assert len(CLASS_NAMES) == 120 and len(set(CLASS_NAMES)) == 120
    assert len(get_reader("ntu60").class_names) == 60 and len(get_reader("ntu120").class_names) == 120
    assert CLASS_NAMES[0] == "drink water" and CLASS_NAMES[59] == "walking apart from each other"
    assert CLASS_NAMES[119] == "finger-guessing game (playing rock-paper-scissors)"


def test_body_ids_beyond_int64(tmp_path):
    text = skeleton_text([frame((2**64 - 1, 0), (2**63, 1))])
    joints, present, ids, _ = parse_ntu_skeleton(text.encode())
    assert ids[:, 0].tolist() == [-1, -(2**63)]
    err = _error(write(tmp_path, "S001C001P001R001A007.skeleton", skeleton_text([frame((2**64, 0))])))
    assert err.reason == "malformed" and "64 bits" in str(err)


def test_prepare_counts_listed_samples_as_skipped(tmp_path):
    pytest.importorskip("skelssl.data.recipes.crossclr")
    from skelssl.data.prepare import prepare_dataset

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(3)
    names = ["S001C001P001R001A001", "S001C002P002R001A050", "S001C002P005R002A008", "S019C001P046R001A075",
             "S020C003P050R002A070"]
    for name in names:
        joints = rng.normal(0.0, 0.3, size=(2, 12, 25, 3)) + np.array([0.0, 0.0, 3.0])
        write_ntu_skeleton(raw / f"{name}.skeleton", joints, np.ones((2, 12), bool), rng=rng)
    write(raw, "S002C001P003R001A010.skeleton", "2\n0\n0\n")

    summary = prepare_dataset("ntu120", tmp_path / "out", raw, on_error="skip", workers=1, progress=False)
    assert summary.samples_kept == 3
    assert summary.skipped_by_reason == {"missing_skeleton_list": 2, "empty": 1}
    summary = prepare_dataset("ntu60", tmp_path / "out60", raw, on_error="skip", workers=1, progress=False)
    assert summary.samples_kept == 2
    assert summary.skipped_by_reason == {"missing_skeleton_list": 1, "empty": 1}
