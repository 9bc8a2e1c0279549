"""Data paths that never lie (issue 14): labels only from inside ``--raw``, every lost
sample counted, options checked before any work, paths followed, odd inputs named.

Every test builds its inputs by hand in ``tmp_path``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from skelssl.cli import main
from skelssl.data.canonical import open_prepared
from skelssl.data.prepare import prepare_dataset
from skelssl.data.readers import get_reader
from skelssl.data.types import SkeletonFileError
from test_pkummd_reader import video_array, write_labels, write_skeleton

# ---------------------------------------------------------------------------
# PKU-MMD


def _pku_raw(root: Path, videos: dict[str, list[str]], skeleton_only: tuple[str, ...] = (),
             label_only: dict[str, list[str]] | None = None) -> Path:
    """A phase-1 release under ``root``: skeletons, labels and both split lists."""
    for k, (video, rows) in enumerate(videos.items()):
        write_skeleton(root / "PKU_Skeleton_Renew" / f"{video}.txt", video_array(seed=10.0 * k))
        write_labels(root / "Train_Label_PKU_final" / f"{video}.txt", rows)
    for k, video in enumerate(skeleton_only):
        write_skeleton(root / "PKU_Skeleton_Renew" / f"{video}.txt", video_array(seed=50.0 + k))
    for video, rows in (label_only or {}).items():
        write_labels(root / "Train_Label_PKU_final" / f"{video}.txt", rows)
    ids = sorted([*videos, *skeleton_only])
    split = root / "Split"
    split.mkdir(parents=True, exist_ok=True)
    half = ", ".join(ids[: len(ids) // 2 or 1])
    rest = ", ".join(ids[len(ids) // 2 or 1:])
    for name in ("cross-subject.txt", "cross-view.txt"):
        (split / name).write_text(f"Training videos: \n{half}, \nValidataion videos: \n{rest}, \n")
    return root


def test_pku_missing_label_is_counted_and_a_decoy_outside_raw_is_never_read(tmp_path, monkeypatch):
    project = tmp_path / "project"
    raw = _pku_raw(project / "raw", {"0005-R": ["7,2,6,1"], "0006-L": ["3,0,4,1"]}, skeleton_only=("0002-L",))
    # Another project's labels, beside --raw: same video name, action 1 ("bow").
    decoy = project / "other_labels" / "0002-L.txt"
    write_labels(decoy, ["1,0,4,1", "1,5,9,1"])
    opened: list[str] = []
    real_read_text, real_read_bytes = Path.read_text, Path.read_bytes
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: opened.append(str(self)) or real_read_text(self, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda self: opened.append(str(self)) or real_read_bytes(self))

    summary = prepare_dataset("pkummd1", tmp_path / "out", raw, on_error="skip", workers=1, progress=False)

    assert str(decoy) not in opened
    assert summary.skipped_by_reason == {"missing_labels": 1}
    (skip,) = summary.skipped
    assert Path(skip["file"]).name == "0002-L.txt" and "0002-L" in skip["message"]
    ids = open_prepared(tmp_path / "out").meta["sample_id"].tolist()
    assert not any(i.startswith("0002-L") for i in ids) and ids == ["0005-R_000", "0006-L_000"]
    # Without --on-error skip the missing label stops the run, naming the video.
    with pytest.raises(SkeletonFileError, match=r"0002-L\.txt") as err:
        prepare_dataset("pkummd1", tmp_path / "strict", raw, workers=1, progress=False)
    assert err.value.reason == "missing_labels"


def test_pku_reader_without_raw_dir_does_not_search_for_labels(tmp_path):
    raw = _pku_raw(tmp_path / "raw", {"0005-R": ["7,2,6,1"]})
    write_labels(tmp_path / "labels_elsewhere" / "0005-R.txt", ["1,0,4,1"])
    skeleton = str(raw / "PKU_Skeleton_Renew" / "0005-R.txt")
    with pytest.raises(ValueError, match="label_dir"):
        get_reader("pkummd1").read(skeleton)
    # Told where the release lies (as prepare does in every worker), it finds the right file.
    reader = get_reader("pkummd1")
    reader.bind(raw)
    assert [(s.sample_id, s.label) for s in reader.read(skeleton)] == [("0005-R_000", 6)]


def test_pku_relative_option_dirs_resolve_against_raw(tmp_path, monkeypatch):
    raw = _pku_raw(tmp_path / "raw", {"0005-R": ["7,2,6,1"], "0006-L": ["3,0,4,1"]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    options = {"skeleton_dir": "PKU_Skeleton_Renew", "label_dir": "Train_Label_PKU_final", "split_dir": "Split"}
    summary = prepare_dataset("pkummd1", tmp_path / "out", raw, workers=1, progress=False, reader_options=options)
    assert summary.samples_kept == 2 and summary.skipped == []
    ds = open_prepared(tmp_path / "out")
    assert ds.meta["label"].tolist() == [6, 2] and sorted(ds.protocols) == ["xsub", "xview"]


def test_pku_videos_with_labels_but_no_skeleton_are_counted(tmp_path):
    raw = _pku_raw(tmp_path / "raw", {"0005-R": ["7,2,6,1"]}, label_only={"0009-L": ["2,0,4,1"], "0010-M": ["2,0,4,1"]})
    summary = prepare_dataset("pkummd1", tmp_path / "out", raw, workers=1, progress=False)
    assert summary.samples_kept == 1
    assert summary.skipped_by_reason == {"missing_skeleton": 2}
    assert sorted(Path(s["file"]).name for s in summary.skipped) == ["0009-L.txt", "0010-M.txt"]


def test_pku_segmentation_option_writes_untrimmed_reading_each_video_once(tmp_path, monkeypatch):
    import skelssl.data.readers.pkummd as pkummd

    raw = _pku_raw(tmp_path / "raw", {"0002-L": ["5,0,4,1", "12,3,7,2", "51,10,12,1"], "0005-R": ["7,2,6,1"]})
    parsed: list[str] = []
    real = pkummd.parse_number_rows
    monkeypatch.setattr(pkummd, "parse_number_rows", lambda path, *a: parsed.append(str(path)) or real(path, *a))
    summary = prepare_dataset("pkummd1", tmp_path / "out", raw, workers=1, progress=False,
                              reader_options={"segmentation": True})
    assert summary.samples_kept == 4
    assert sorted(Path(p).name for p in parsed) == ["0002-L.txt", "0005-R.txt"]
    seg = tmp_path / "out" / "untrimmed"
    assert (seg / "videos.csv").read_text() == "video_id,offset,length\n0002-L,0,12\n0005-R,12,12\n"
    labels = np.load(seg / "frame_labels.npy")
    np.testing.assert_array_equal(labels[:12], [4, 4, 4, 11, 11, 11, 11, -1, -1, -1, 50, 50])
    np.testing.assert_array_equal(labels[12:], [-1, -1, 6, 6, 6, 6, -1, -1, -1, -1, -1, -1])
    assert np.load(seg / "sequences.npy").shape == (24, 3, 25, 2)


# ---------------------------------------------------------------------------
# Options: a typo is an error with a did-you-mean, before any work


@pytest.mark.parametrize(
    "args, needle",
    [
        (["pkummd1", "--reader-option", "segmentaton=true"], "unknown reader option 'segmentaton' for pkummd1 (did you mean 'segmentation'?)"),
        (["nucla", "--reader-option", "view=1"], "unknown reader option 'view' for nucla (it takes none)"),
        (["synthetic", "--reader-option", "num_sample=40"], "did you mean 'num_samples'?"),
        (["ntu60", "--reader-option", "max_body=2"], "did you mean 'max_bodies'?"),
        (["nucla", "--recipe-option", "num_frame=20"], "unknown recipe option 'num_frame' for agc_lstm (did you mean 'num_frames'?)"),
        (["nucla", "--recipe", "sgn", "--recipe-option", "motion=true"], "did you mean 'motion_filter'?"),
    ],
)
def test_unknown_options_exit_2_before_any_file_is_written(tmp_path, capsys, args, needle):
    raw = tmp_path / "raw"
    raw.mkdir()
    out = tmp_path / "out"
    dataset, *rest = args
    argv = ["prepare", dataset, "--out", str(out), "--no-progress", *rest]
    if dataset != "synthetic":
        argv += ["--raw", str(raw)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_option_values_are_checked_up_front():
    with pytest.raises(ValueError, match="frame_base"):
        get_reader("kinetics", frame_base=2)
    with pytest.raises(ValueError, match="segmentation"):
        get_reader("pkummd1", segmentation="maybe")
    with pytest.raises(ValueError, match="max_people"):
        get_reader("kinetics", max_people=0)
    with pytest.raises(ValueError, match="label_dir"):
        get_reader("pkummd2", label_dir=3)
    with pytest.raises(ValueError, match="units"):
        get_reader("utkinect", units="inch")
    with pytest.raises(ValueError, match="reader option num_samples of synthetic must be an integer, got 'abc'"):
        get_reader("synthetic", num_samples="abc")
    with pytest.raises(ValueError, match="seed of synthetic must be an integer"):
        get_reader("synthetic", seed=1.5)


# ---------------------------------------------------------------------------
# N-UCLA


def _nucla(path: Path, record) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    return path


def _frames(t: int, value: float | None = None) -> list:
    return [[[value if value is not None else 0.1 * j, 0.2, 3.0 + 0.01 * f] for j in range(20)] for f in range(t)]


def test_nucla_all_zero_sample_is_a_counted_empty_skip(tmp_path):
    raw = tmp_path / "raw"
    _nucla(raw / "a01_s01_e00_v01.json", {"skeletons": _frames(4), "label": 1})
    zero = _nucla(raw / "a01_s01_e01_v01.json", {"skeletons": _frames(50, value=0.0), "label": 1})
    zero.write_text(json.dumps({"skeletons": [[[0, 0, 0]] * 20] * 50, "label": 1}))
    with pytest.raises(SkeletonFileError) as err:
        get_reader("nucla").read(str(zero))
    assert err.value.reason == "empty" and str(zero) in str(err.value)
    summary = prepare_dataset("nucla", tmp_path / "out", raw, on_error="skip", workers=1, progress=False)
    assert summary.samples_kept == 1 and summary.skipped_by_reason == {"empty": 1}


def test_nucla_all_zero_frames_are_absent(tmp_path):
    frames = _frames(5)
    frames[2] = [[0.0, 0.0, 0.0]] * 20
    (seq,) = get_reader("nucla").read(str(_nucla(tmp_path / "a01_s01_e00_v01.json", {"skeletons": frames, "label": 1})))
    assert seq.present.tolist() == [[True, True, False, True, True]]


@pytest.mark.parametrize("label", [[1], "abc", True, {"id": 1}, 1.5, "1"])
def test_nucla_odd_label_types_name_the_file(tmp_path, label):
    path = _nucla(tmp_path / "a01_s01_e00_v01.json", {"skeletons": _frames(3), "label": label})
    with pytest.raises(SkeletonFileError) as err:
        get_reader("nucla").read(str(path))
    assert err.value.reason == "bad_label" and str(err.value).startswith(str(path)), str(err.value)


def test_nucla_odd_labels_are_counted_skips(tmp_path):
    raw = tmp_path / "raw"
    _nucla(raw / "a01_s01_e00_v01.json", {"skeletons": _frames(3), "label": 1})
    _nucla(raw / "a01_s01_e01_v01.json", {"skeletons": _frames(3), "label": [1]})
    _nucla(raw / "a01_s01_e02_v01.json", {"skeletons": _frames(3), "label": "abc"})
    _nucla(raw / "a01_s01_e03_v01.json", {"skeletons": [[1, 2, 3]], "label": 1})
    _nucla(raw / "a01_s01_e04_v01.json", [1, 2])
    summary = prepare_dataset("nucla", tmp_path / "out", raw, on_error="skip", workers=1, progress=False)
    assert summary.samples_kept == 1
    assert summary.skipped_by_reason == {"bad_label": 2, "wrong_joint_count": 1, "malformed": 1}


# ---------------------------------------------------------------------------
# Kinetics


def test_kinetics_odd_label_index_entries_name_the_index(tmp_path):
    from test_kinetics_reader import person, write_video

    root = tmp_path / "kin"
    for name in ("v1", "v2", "v3", "v4"):
        write_video(root / "kinetics_train" / f"{name}.json", [{"frame_index": 1, "skeleton": [person(0.1)]}],
                    label_index=3)
    index = root / "kinetics_train_label.json"
    index.write_text(json.dumps({
        "v1": [3, "abseiling"],
        "v2": {"has_skeleton": True, "label_index": "three"},
        "v3": {"has_skeleton": "yes", "label_index": 3},
        "v4": {"has_skeleton": True, "label": "x", "label_index": 3},
    }))
    reader = get_reader("kinetics")
    for name in ("v1", "v2", "v3"):
        with pytest.raises(SkeletonFileError) as err:
            reader.read(str(root / "kinetics_train" / f"{name}.json"))
        assert str(index) in str(err.value) and name in str(err.value), str(err.value)
    (seq,) = reader.read(str(root / "kinetics_train" / "v4.json"))
    assert seq.label == 3
    summary = prepare_dataset("kinetics", tmp_path / "out", root, on_error="skip", workers=1, progress=False,
                              recipe="raw", recipe_options={"num_frames": 4})
    assert summary.samples_kept == 1 and summary.skipped_by_reason == {"bad_label": 3}


def test_kinetics_file_label_of_odd_type(tmp_path):
    from test_kinetics_reader import person

    item = tmp_path / "kinetics_val" / "v.json"
    item.parent.mkdir()
    item.write_text(json.dumps({"data": [{"frame_index": 1, "skeleton": [person(0.1)]}], "label_index": [1]}))
    with pytest.raises(SkeletonFileError) as err:
        get_reader("kinetics").read(str(item))
    assert err.value.reason == "bad_label" and str(item) in str(err.value)


def test_a_sample_without_any_body_is_counted_empty_whatever_the_reader(tmp_path):
    from test_kinetics_reader import person, write_video

    root = tmp_path / "kin"
    write_video(root / "kinetics_val" / "someone.json", [{"frame_index": 1, "skeleton": [person(0.1)]}])
    write_video(root / "kinetics_val" / "nobody.json", [{"frame_index": 1, "skeleton": []},
                                                       {"frame_index": 2, "skeleton": []}])
    with pytest.raises(SkeletonFileError, match=r"nobody\.json: sample nobody: no body in any frame"):
        prepare_dataset("kinetics", tmp_path / "strict", root, workers=1, progress=False, recipe="raw")
    summary = prepare_dataset("kinetics", tmp_path / "out", root, on_error="skip", workers=1, progress=False,
                              recipe="raw")
    assert summary.samples_kept == 1 and summary.skipped_by_reason == {"empty": 1}


def test_kinetics_not_found_names_the_folders_it_expects(tmp_path):
    raw = tmp_path / "raw"
    (raw / "train").mkdir(parents=True)
    (raw / "train" / "clip.json").write_text("{}")
    with pytest.raises(FileNotFoundError) as err:
        prepare_dataset("kinetics", tmp_path / "out", raw, progress=False)
    assert "kinetics_train/" in str(err.value) and "kinetics_val/" in str(err.value) and str(raw) in str(err.value)


# ---------------------------------------------------------------------------
# NTU


def test_ntu_file_with_utf8_bom_is_read(tmp_path):
    from test_ntu_reader import GOOD

    plain = tmp_path / "a" / "S001C001P001R001A001.skeleton"
    bom = tmp_path / "b" / "S001C001P001R001A001.skeleton"
    for path, prefix in ((plain, b""), (bom, b"\xef\xbb\xbf")):
        path.parent.mkdir()
        path.write_bytes(prefix + GOOD.replace("\n", "\r\n").encode())
    (a,) = get_reader("ntu120").read(str(plain))
    (b,) = get_reader("ntu120").read(str(bom))
    np.testing.assert_array_equal(a.joints, b.joints)
    np.testing.assert_array_equal(a.body_ids, b.body_ids)


@pytest.mark.parametrize(
    "cut",
    [
        lambda t: t[: t.index("\n", len(t) // 2)],
        lambda t: t[: len(t) // 2],
        lambda t: t.rstrip("\n")[:-2],
        lambda t: "\n".join(t.splitlines()[:-25]) + "\n",
        lambda t: "4" + t[1:],
        lambda t: "\n".join(t.splitlines()[:-26] + ["2"]) + "\n",
    ],
)
def test_truncated_ntu_error_gives_the_line(tmp_path, cut):
    from test_ntu_reader import GOOD

    text = cut(GOOD)
    path = tmp_path / "S010C001P007R001A021.skeleton"
    path.write_text(text)
    with pytest.raises(SkeletonFileError) as err:
        get_reader("ntu120").read(str(path))
    assert err.value.reason == "truncated"
    match = re.search(r"line (\d+)", str(err.value))
    assert match, str(err.value)
    # The line named is the last line the file holds.
    assert int(match.group(1)) == len(text.rstrip("\n").split("\n")), str(err.value)


# ---------------------------------------------------------------------------
# Paths


def test_directory_symlinks_under_raw_are_followed(tmp_path):
    store = tmp_path / "store"
    _nucla(store / "view1" / "a01_s01_e00_v01.json", {"skeletons": _frames(3), "label": 1})
    _nucla(store / "view3" / "a02_s01_e00_v03.json", {"skeletons": _frames(3), "label": 2})
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "v1").symlink_to(store / "view1", target_is_directory=True)
    (raw / "v3").symlink_to(store / "view3", target_is_directory=True)
    (raw / "loop").symlink_to(raw, target_is_directory=True)  # a cycle must not hang the walk
    summary = prepare_dataset("nucla", tmp_path / "out", raw, workers=1, progress=False)
    assert summary.samples_kept == 2
    # A symlinked --raw works too.
    linked = tmp_path / "linked_raw"
    linked.symlink_to(raw, target_is_directory=True)
    assert prepare_dataset("nucla", tmp_path / "out2", linked, workers=1, progress=False).samples_kept == 2


def test_symlinked_pku_release_and_split_lists(tmp_path):
    store = _pku_raw(tmp_path / "store", {"0005-R": ["7,2,6,1"], "0006-L": ["3,0,4,1"]})
    raw = tmp_path / "raw"
    raw.mkdir()
    for part in ("PKU_Skeleton_Renew", "Train_Label_PKU_final", "Split"):
        (raw / part).symlink_to(store / part, target_is_directory=True)
    summary = prepare_dataset("pkummd1", tmp_path / "out", raw, workers=1, progress=False)
    assert summary.samples_kept == 2 and sorted(open_prepared(tmp_path / "out").protocols) == ["xsub", "xview"]


def test_no_files_found_says_what_was_expected(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "clip.json").write_text("{}")
    with pytest.raises(FileNotFoundError) as err:
        prepare_dataset("nucla", tmp_path / "out", raw, progress=False)
    assert "aAA_sSS_eEE_vVV.json" in str(err.value) and str(raw) in str(err.value)


# ---------------------------------------------------------------------------
# Tables


def test_custom_table_that_is_not_utf8_names_the_file(tmp_path):
    from test_custom_reader import make_dir

    root = make_dir(tmp_path / "mine", table="sample_id,label\nwalk_\xe901,0\n")
    (root / "samples.csv").write_bytes("sample_id,label\nwalk_é01,0\n".encode("latin-1"))
    (root / "skeletons").mkdir()
    with pytest.raises(SkeletonFileError) as err:
        get_reader("custom").discover(root)
    assert str(root / "samples.csv") in str(err.value) and "UTF-8" in str(err.value)


# ---------------------------------------------------------------------------
# Counting


def test_all_skipped_writes_the_summary_and_prints_the_reasons(tmp_path, capsys):
    raw = tmp_path / "raw"
    _nucla(raw / "a01_s01_e00_v01.json", {"skeletons": [], "label": 1})
    _nucla(raw / "a01_s01_e01_v01.json", '{"skeletons": [[')
    out = tmp_path / "out"
    code = main(["prepare", "nucla", "--raw", str(raw), "--out", str(out), "--on-error", "skip", "--no-progress",
                 "--workers", "1"])
    assert code == 2
    captured = capsys.readouterr()
    assert "every one of the 2 samples was skipped" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "skipped (empty)" in captured.out and "skipped (truncated)" in captured.out
    assert "a01_s01_e00_v01.json" in captured.out
    saved = json.loads((out / "summary.json").read_text())
    assert saved["skipped_by_reason"] == {"empty": 1, "truncated": 1} and saved["samples_kept"] == 0
    assert saved["on_error"] == "skip"
    assert not (out / "info.json").exists() and not (out / ".partial").exists()


def test_resumed_prepare_keeps_its_on_error(tmp_path):
    from test_prepare import _make_raw

    # Files sort as 0_0_2, 0_3_5 (bad), 0_6_4, 0_9_3 (crash), ...: chunk 0 holds the bad file.
    raw = _make_raw(tmp_path / "raw", n=12, bad=(3,), crash=(9,))
    out = tmp_path / "out"
    opts = {"crash": True}
    with pytest.raises(RuntimeError, match="simulated kill"):
        prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options=opts,
                        on_error="skip")
    (raw / "0_9_3.toy").write_text("ok")
    # The default run must not inherit the interrupted skip run's skips.
    with pytest.raises(SkeletonFileError, match=r"0_3_5\.toy: wrong joint count 19"):
        prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options=opts)
    summary = prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options=opts,
                              on_error="skip")
    assert summary.samples_kept == 11 and summary.skipped_by_reason == {"wrong_joint_count": 1}
    saved = json.loads((out / "summary.json").read_text())
    assert saved["on_error"] == "skip" and open_prepared(out).info["summary"]["on_error"] == "skip"


def test_required_layout_roles_are_checked_before_any_work(tmp_path):
    from test_custom_reader import TRI, make_dir

    root = make_dir(tmp_path / "tri", table="sample_id,label\nwalk_01,0\n",
                    layout={**TRI, "name": "test_tri3_roles", "channels": ["x", "y", "z"]})
    (root / "skeletons").mkdir()
    np.save(root / "skeletons" / "walk_01.npy", np.ones((4, 3, 3), np.float32))
    with pytest.raises(ValueError) as err:
        prepare_dataset("custom", tmp_path / "out", root, recipe="agcn", progress=False)
    message = str(err.value)
    assert "recipe 'agcn' needs layout roles" in message and "spine_mid" in message and "test_tri3_roles" in message
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------
# Custom data: units and dataset.json keys


def _custom_k20(root: Path, array: np.ndarray, **meta) -> Path:
    root.mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps({"layout": "kinect20", "num_classes": 2, **meta}))
    (root / "samples.csv").write_text("sample_id,label\ns1,0\n")
    (root / "skeletons").mkdir()
    np.save(root / "skeletons" / "s1.npy", array)
    return root


def test_millimetre_data_is_rejected_unless_declared(tmp_path):
    pose = np.tile(np.linspace(-0.9, 0.9, 20)[:, None], (1, 3)) + [0.0, 0.0, 3.0]
    frames = np.repeat(pose[None], 5, axis=0).astype(np.float32)
    undeclared = _custom_k20(tmp_path / "a", 1000 * frames)
    reader = get_reader("custom")
    (item,) = reader.discover(undeclared)
    with pytest.raises(SkeletonFileError, match=r'not metres.*"units": "mm"') as err:
        reader.read(item)
    assert err.value.reason == "units" and "s1.npy" in str(err.value)
    declared = _custom_k20(tmp_path / "b", 1000 * frames, units="mm")
    reader = get_reader("custom")
    (seq,) = reader.read(reader.discover(declared)[0])
    np.testing.assert_allclose(seq.joints[0], frames, rtol=1e-6)
    metres = _custom_k20(tmp_path / "c", frames)
    reader = get_reader("custom")
    (seq,) = reader.read(reader.discover(metres)[0])
    np.testing.assert_array_equal(seq.joints[0], frames)


def test_dataset_json_typo_is_an_error_with_a_did_you_mean(tmp_path):
    root = _custom_k20(tmp_path / "a", np.ones((3, 20, 3), np.float32), num_clases=3)
    with pytest.raises(SkeletonFileError, match="unknown key 'num_clases' \\(did you mean 'num_classes'\\?\\)") as err:
        get_reader("custom").discover(root)
    assert str(root / "dataset.json") in str(err.value)
    root = _custom_k20(tmp_path / "b", np.ones((3, 20, 3), np.float32), units="inch")
    with pytest.raises(SkeletonFileError, match="units must be one of m, cm, mm"):
        get_reader("custom").discover(root)
