"""N-UCLA: the reader on real data through the CLI, and its bad-input policies."""

import json
from collections import Counter

import numpy as np
import pytest

from skelssl.cli import main
from skelssl.data.canonical import open_prepared
from skelssl.data.dataset import SkeletonDataset
from skelssl.data.prepare import prepare_dataset
from skelssl.data.readers import get_reader
from skelssl.data.types import SkeletonFileError

# Cross-view split per class (labels 1..10 = actions a01 a02 a03 a04 a05 a06 a08 a09 a11 a12),
# counted from the release's file names.
XVIEW_TRAIN = [102, 102, 96, 124, 101, 102, 99, 99, 98, 97]
XVIEW_TEST = [48, 50, 45, 49, 47, 47, 43, 43, 47, 45]


@pytest.mark.realdata
def test_prepare_nucla_cli_reads_all_samples(nucla_dir, tmp_path, capsys):
    out = tmp_path / "nucla"
    rc = main(["prepare", "nucla", "--raw", str(nucla_dir), "--out", str(out), "--no-progress", "--workers", "2"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "1484" in printed
    ds = open_prepared(out)
    # The default recipe (agc_lstm) stores every valid frame of the one body, padded to the longest (201).
    assert ds.data.shape == (1484, 3, 201, 20, 1)
    assert ds.info["recipe"]["name"] == "agc_lstm" and ds.info["recipe"]["clip_frames"] == 52
    assert (ds.meta["frames"] == ds.meta["length"]).all() and ds.meta["length"].max() == 201
    assert ds.info["summary"]["samples_kept"] == 1484 and ds.info["summary"]["skipped_by_reason"] == {}
    train, test = ds.split("xview", "train"), ds.split("xview", "test")
    assert len(train) == 1020 and len(test) == 464
    assert np.bincount(ds.labels[train], minlength=10).tolist() == XVIEW_TRAIN
    assert np.bincount(ds.labels[test], minlength=10).tolist() == XVIEW_TEST
    assert set(ds.meta["view"][test].tolist()) == {3} and set(ds.meta["view"][train].tolist()) == {1, 2}
    # Independent count from the file names.
    names = sorted(p.stem for p in (nucla_dir / "all_sqe").glob("*.json"))
    by_view = Counter(n[-3:] for n in names)
    assert by_view["v03"] == 464 and by_view["v01"] + by_view["v02"] == 1020
    # The two 1-frame sequences are kept (their clip repeats the frame), not dropped.
    assert ds.info["summary"]["single_frame"] == 2
    k = ds.meta["sample_id"].tolist().index("a02_s09_e04_v02")
    assert ds.meta["length"][k] == 1
    assert np.isfinite(ds.data[k]).all() and np.abs(ds.data[k]).sum() > 0
    assert np.all(np.isfinite(ds.data[:64]))
    # Centred on the first frame's spine joint (kinect20 joint 1), in metres: the trajectory is kept.
    raw = {p.stem: np.asarray(json.loads(p.read_text())["skeletons"], dtype=np.float32)
           for p in sorted((nucla_dir / "all_sqe").glob("*.json"))[::97]}
    for sample_id, joints in raw.items():
        k = ds.meta["sample_id"].tolist().index(sample_id)
        stored = ds.data[k, :, : len(joints), :, 0].transpose(1, 2, 0)
        np.testing.assert_allclose(stored, joints - joints[0, 1], atol=1e-5)
        assert not ds.data[k, :, len(joints):].any()  # zero padding after the valid frames


def _write(path, record):
    path.write_text(json.dumps(record) if not isinstance(record, str) else record)
    return str(path)


def _frames(t, joints=20):
    return [[[0.1 * j, 0.2, 3.0 + 0.01 * f] for j in range(joints)] for f in range(t)]


def test_reader_values_and_metadata(tmp_path):
    path = _write(tmp_path / "a08_s03_e02_v01.json", {"file_name": "a08_s03_e02_v01", "skeletons": _frames(4), "label": 7})
    (seq,) = get_reader("nucla").read(path)
    assert seq.joints.shape == (1, 4, 20, 3) and seq.present.all()
    assert (seq.label, seq.subject, seq.replication, seq.view) == (6, 3, 2, 1)
    assert seq.joints[0, 2, 5].tolist() == pytest.approx([0.5, 0.2, 3.02])


@pytest.mark.parametrize(
    "content,reason,message",
    [
        ('{"skeletons": [[[0.1, 0.2, 3.0]', "truncated", "not valid JSON"),
        ({"skeletons": _frames(3, joints=19), "label": 1}, "wrong_joint_count", r"\[T\]\[20\]\[3\], got \[3, 19, 3\]"),
        ({"skeletons": [_frames(1)[0], _frames(1, joints=19)[0]], "label": 1}, "wrong_joint_count", "differing joint counts"),
        ({"skeletons": [], "label": 1}, "empty", "zero-length"),
        ('{"skeletons": [[[NaN, 0.2, 3.0]' + ", [0, 0, 0]" * 19 + "]], \"label\": 1}", "non_finite", "non-finite value at index \\(0, 0, 0\\)"),
        ('{"skeletons": [[[Infinity, 0.2, 3.0]' + ", [0, 0, 0]" * 19 + "]], \"label\": 1}", "non_finite", "non-finite"),
        ({"skeletons": _frames(2), "label": 4}, "bad_label", "disagrees with file name"),
        ({"frames": []}, "malformed", "no 'skeletons' field"),
    ],
)
def test_bad_input_names_the_file(tmp_path, content, reason, message):
    path = _write(tmp_path / "a01_s01_e00_v01.json", content)
    with pytest.raises(SkeletonFileError, match=message) as err:
        get_reader("nucla").read(path)
    assert err.value.reason == reason
    assert str(err.value).startswith(path)


def test_bad_file_name(tmp_path):
    path = _write(tmp_path / "clip7.json", {"skeletons": _frames(2), "label": 1})
    with pytest.raises(SkeletonFileError, match="aAA_sSS_eEE_vVV") as err:
        get_reader("nucla").read(path)
    assert err.value.reason == "bad_name"


def test_one_frame_sequence_is_kept(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write(raw / "a01_s01_e00_v01.json", {"skeletons": _frames(1), "label": 1})
    _write(raw / "a01_s01_e01_v03.json", {"skeletons": _frames(5), "label": 1})
    s = prepare_dataset("nucla", tmp_path / "out", raw, workers=1, progress=False)
    assert s.samples_kept == 2 and s.single_frame == 1
    ds = open_prepared(tmp_path / "out")
    k = ds.meta["sample_id"].tolist().index("a01_s01_e00_v01")
    assert ds.meta["length"][k] == 1 and ds.meta["frames"][k] == 1
    # Every one of the 52 frames of its input clip, random or uniform, repeats the single pose.
    for sampling in ("uniform", "random"):
        x = SkeletonDataset(ds, indices=[k], sampling=sampling)[0][0]
        assert x.shape == (3, 52, 20, 1) and x.abs().sum() > 0
        np.testing.assert_allclose(x, x[:, :1].expand(-1, 52, -1, -1))
    # The crossclr recipe repeats it to 50 stored frames instead.
    prepare_dataset("nucla", tmp_path / "cc", raw, recipe="crossclr", workers=1, progress=False)
    cc = open_prepared(tmp_path / "cc")
    frames = cc.data[k, :, :, :, 0]
    np.testing.assert_allclose(frames, np.repeat(frames[:, :1], 50, axis=1))


def test_skip_mode_counts_each_bad_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write(raw / "a01_s01_e00_v01.json", {"skeletons": _frames(3), "label": 1})
    _write(raw / "a01_s01_e01_v01.json", {"skeletons": [], "label": 1})
    _write(raw / "a01_s01_e02_v01.json", '{"skeletons": [[')
    _write(raw / "a01_s01_e03_v01.json", {"skeletons": _frames(3, joints=25), "label": 1})
    with pytest.raises(SkeletonFileError, match="a01_s01_e01_v01.json: zero-length"):
        prepare_dataset("nucla", tmp_path / "strict", raw, workers=1, progress=False)
    s = prepare_dataset("nucla", tmp_path / "out", raw, workers=1, progress=False, on_error="skip")
    assert s.samples_kept == 1
    assert s.skipped_by_reason == {"empty": 1, "truncated": 1, "wrong_joint_count": 1}


@pytest.mark.realdata
def test_kinect20_joint_order_bones_and_mirror_pairs_fit_the_nucla_files(nucla_dir):
    """The layout's joint names, bones and left/right pairs describe what the N-UCLA files hold."""
    from skelssl.data.layouts import get_layout

    layout = get_layout("kinect20")
    files = sorted((nucla_dir / "all_sqe").glob("*.json"))[::8]
    x = np.concatenate([np.asarray(json.loads(f.read_text())["skeletons"], dtype=np.float64) for f in files])
    name = {n: i for i, n in enumerate(layout.joint_names)}
    length = {(layout.joint_names[c], layout.joint_names[p]): np.linalg.norm(x[:, c] - x[:, p], axis=1).mean()
              for c, p in layout.bones}
    # Adult limb segments (metres): a joint out of order would join non-adjacent joints.
    for side in ("left", "right"):
        assert 0.2 < length[(f"elbow_{side}", f"shoulder_{side}")] < 0.3
        assert 0.2 < length[(f"wrist_{side}", f"elbow_{side}")] < 0.3
        assert 0.4 < length[(f"knee_{side}", f"hip_{side}")] < 0.55
        assert 0.3 < length[(f"ankle_{side}", f"knee_{side}")] < 0.45
        leg_y = [x[:, name[f"{j}_{side}"], 1].mean() for j in ("hip", "knee", "ankle", "foot")]
        assert leg_y == sorted(leg_y, reverse=True)  # the leg descends hip -> foot
    assert x[:, name["head"], 1].mean() > x[:, name["shoulder_center"], 1].mean() > x[:, name["hip_center"], 1].mean()
    # Mirror pairs sit on opposite sides of the body centre, with mirrored bones of equal length.
    rel = x - x[:, :1]
    for a, b in layout.mirror_pairs:
        assert rel[:, a, 0].mean() * rel[:, b, 0].mean() < 0, (layout.joint_names[a], layout.joint_names[b])
    for (child, parent), value in length.items():
        if child.endswith("_left"):
            twin = (child.replace("_left", "_right"), parent.replace("_left", "_right"))
            assert value == pytest.approx(length[twin], rel=0.05)
