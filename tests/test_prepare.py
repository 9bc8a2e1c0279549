"""The prepare pipeline on a small in-test dataset: format, errors, skips, resume, parallelism."""

import json
from pathlib import Path

import numpy as np
import pytest

from skelssl.data.canonical import open_prepared, read_index_file
from skelssl.data.prepare import prepare_dataset
from skelssl.data.readers import DatasetReader, register_reader
from skelssl.data.recipes import Recipe, RecipeOutput, register_recipe
from skelssl.data.types import RawSequence, SkeletonFileError


@register_reader("toy_test")
class ToyReader(DatasetReader):
    """Files ``<label>_<subject>_<frames>.toy``; the content is ignored unless it says BAD/CRASH."""

    layout = "kinect20"
    default_recipe = "toy_pad"
    class_names = ("a", "b", "c")
    known_options = ("crash",)

    def discover(self, raw_dir):
        return sorted(str(p) for p in Path(raw_dir).glob("*.toy"))

    def read(self, item):
        text = Path(item).read_text()
        if text == "BAD":
            raise SkeletonFileError(item, "wrong joint count 19", reason="wrong_joint_count")
        if text == "CRASH" and self.options.get("crash"):
            raise RuntimeError("simulated kill")
        label, subject, frames = map(int, Path(item).stem.split("_"))
        j = np.full((1, frames, 20, 3), 100 * label + subject, np.float32)
        j[0, :, :, 0] += np.arange(frames)[:, None]
        return [RawSequence(Path(item).stem, j, np.ones((1, frames), bool), label=label, subject=subject,
                            layout="kinect20", source=item)]

    def protocols(self, meta, raw_dir):
        idx = np.arange(len(meta["label"]))
        return {"xsub": {"train": idx[meta["subject"] % 2 == 1], "test": idx[meta["subject"] % 2 == 0]}}


@register_recipe("toy_pad")
class ToyPad(Recipe):
    """Crop/zero-pad to 4 frames, one body."""

    num_frames = 4
    num_bodies = 1

    def apply(self, seq):
        if seq.num_frames == 0:
            raise SkeletonFileError(seq.source, "zero-length sequence", reason="empty")
        t = min(seq.num_frames, self.num_frames)
        out = np.zeros((3, self.num_frames, 20, 1), np.float32)
        out[:, :t, :, 0] = seq.joints[0, :t].transpose(2, 0, 1)
        return RecipeOutput(out, t)


def _make_raw(root: Path, n: int = 12, bad: tuple = (), crash: tuple = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"{i % 3}_{i}_{2 + i % 4}.toy"
        (root / name).write_text("BAD" if i in bad else "CRASH" if i in crash else "ok")
    return root


def test_canonical_output(tmp_path):
    raw = _make_raw(tmp_path / "raw")
    s = prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False, chunk_size=5)
    assert s.samples_kept == 12 and s.skipped == [] and s.items == 12
    ds = open_prepared(tmp_path / "out")
    assert ds.data.shape == (12, 3, 4, 20, 1) and ds.data.dtype == np.float32
    assert isinstance(ds.data, np.memmap)
    ids = ds.meta["sample_id"].tolist()
    assert ids == sorted(ids)
    k = ids.index("1_4_2")
    # label 1, subject 4: value 104, x += frame index; frames 2..3 are padding.
    np.testing.assert_array_equal(ds.data[k, 0, :, 0, 0], [104, 105, 0, 0])
    np.testing.assert_array_equal(ds.data[k, 1, :, 5, 0], [104, 104, 0, 0])
    assert ds.meta["length"][k] == 2 and ds.meta["frames"][k] == 2 and ds.meta["label"][k] == 1
    assert ds.meta["view"][k] == -1
    assert ds.info["layout"] == "kinect20" and ds.info["num_classes"] == 3
    assert ds.info["class_counts"] == [4, 4, 4]
    train, test = ds.split("xsub", "train"), ds.split("xsub", "test")
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(12))
    assert (ds.meta["subject"][train] % 2 == 1).all()
    assert not (tmp_path / "out" / ".partial").exists()
    with pytest.raises(FileNotFoundError, match="no split xview/train"):
        ds.split("xview", "train")


def test_bad_file_raises_naming_the_file(tmp_path):
    raw = _make_raw(tmp_path / "raw", bad=(5,))
    with pytest.raises(SkeletonFileError, match=r"2_5_3\.toy: wrong joint count 19"):
        prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False)


def test_bad_file_raises_from_worker_processes(tmp_path):
    raw = _make_raw(tmp_path / "raw", bad=(7,))
    with pytest.raises(SkeletonFileError, match=r"1_7_5\.toy") as info:
        prepare_dataset("toy_test", tmp_path / "out", raw, workers=2, chunk_size=2, progress=False)
    assert info.value.reason == "wrong_joint_count"


def test_skip_counts_every_lost_sample(tmp_path):
    raw = _make_raw(tmp_path / "raw", bad=(1, 8))
    s = prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False, on_error="skip")
    assert s.samples_kept == 10 and s.samples_read == 12
    assert s.skipped_by_reason == {"wrong_joint_count": 2}
    assert {Path(x["file"]).name for x in s.skipped} == {"1_1_3.toy", "2_8_2.toy"}
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["skipped_by_reason"] == {"wrong_joint_count": 2} and len(saved["skipped"]) == 2
    assert open_prepared(tmp_path / "out").info["summary"]["samples_kept"] == 10


def test_parallel_equals_serial(tmp_path):
    raw = _make_raw(tmp_path / "raw", n=30)
    prepare_dataset("toy_test", tmp_path / "a", raw, workers=1, progress=False, chunk_size=4)
    prepare_dataset("toy_test", tmp_path / "b", raw, workers=2, progress=False, chunk_size=4)
    a, b = open_prepared(tmp_path / "a"), open_prepared(tmp_path / "b")
    np.testing.assert_array_equal(a.data, b.data)
    assert a.meta["sample_id"].tolist() == b.meta["sample_id"].tolist()


def test_resume_after_interruption(tmp_path):
    raw = _make_raw(tmp_path / "raw", n=12, crash=(9,))
    out = tmp_path / "out"
    opts = {"crash": True}
    with pytest.raises(RuntimeError, match="simulated kill"):
        prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options=opts)
    # Files sort as 0_0, 0_3, 0_6, 0_9 (crash) ...: the first chunk finished before the kill.
    assert (out / ".partial" / "chunk_000000.json").exists()
    assert not (out / "info.json").exists()
    (raw / "0_9_3.toy").write_text("ok")
    s = prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options=opts)
    assert s.resumed_chunks == 1 and s.samples_kept == 12
    fresh = prepare_dataset("toy_test", tmp_path / "fresh", raw, workers=1, progress=False, chunk_size=3,
                            reader_options=opts)
    assert fresh.resumed_chunks == 0
    np.testing.assert_array_equal(open_prepared(out).data, open_prepared(tmp_path / "fresh").data)
    assert open_prepared(out).meta["sample_id"].tolist() == open_prepared(tmp_path / "fresh").meta["sample_id"].tolist()


def test_resume_ignores_chunks_made_with_other_settings(tmp_path):
    raw = _make_raw(tmp_path / "raw", n=12, crash=(9,))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=3, reader_options={"crash": True})
    (raw / "0_9_3.toy").write_text("ok")
    s = prepare_dataset("toy_test", out, raw, workers=1, progress=False, chunk_size=4, reader_options={"crash": True})
    assert s.resumed_chunks == 0 and s.samples_kept == 12


def test_refuses_to_overwrite_without_flag(tmp_path):
    raw = _make_raw(tmp_path / "raw", n=3)
    prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False)
    s = prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False, overwrite=True)
    assert s.samples_kept == 3


def test_all_skipped_is_an_error(tmp_path):
    from skelssl.data.prepare import AllSkippedError

    raw = _make_raw(tmp_path / "raw", n=2, bad=(0, 1))
    with pytest.raises(AllSkippedError, match="every one of the 2 samples was skipped") as err:
        prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False, on_error="skip")
    assert err.value.summary.skipped_by_reason == {"wrong_joint_count": 2}


def test_empty_raw_dir(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(FileNotFoundError, match="no toy_test files"):
        prepare_dataset("toy_test", tmp_path / "out", tmp_path / "raw", progress=False)


def test_split_index_files_have_headers(tmp_path):
    raw = _make_raw(tmp_path / "raw", n=6)
    prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False)
    text = (tmp_path / "out" / "splits" / "xsub_train.txt").read_text()
    assert text.startswith("# protocol: xsub\n# part: train\n# samples: 3\n")
    assert read_index_file(tmp_path / "out" / "splits" / "xsub_train.txt").size == 3


def test_torch_dataset_over_prepared(tmp_path):
    import torch

    from skelssl.data.dataset import SkeletonDataset

    raw = _make_raw(tmp_path / "raw", n=6)
    prepare_dataset("toy_test", tmp_path / "out", raw, workers=1, progress=False)
    ds = SkeletonDataset(tmp_path / "out", protocol="xsub", part="test")
    assert len(ds) == 3 and (ds.labels == open_prepared(tmp_path / "out").labels[ds.indices]).all()
    x, y, k = ds[1]
    assert x.shape == (3, 4, 20, 1) and x.dtype == torch.float32
    np.testing.assert_array_equal(x.numpy(), open_prepared(tmp_path / "out").data[k])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch[0].shape == (3, 3, 4, 20, 1)
    with pytest.raises(ValueError, match="part"):
        SkeletonDataset(tmp_path / "out", protocol="xsub")
    with pytest.raises(ValueError, match="index 99"):
        SkeletonDataset(tmp_path / "out", indices=np.array([99]))
