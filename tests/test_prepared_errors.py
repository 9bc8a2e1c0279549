"""Corrupt prepared datasets, run configs and checkpoints: one line naming the file, exit code 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelssl.cli import main
from skelssl.data.canonical import open_prepared
from skelssl.data.prepare import prepare_dataset
from skelssl.data.types import SkeletonFileError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "synthetic"
    prepare_dataset("synthetic", out, reader_options={"num_samples": 24, "num_classes": 3, "max_length": 40},
                    progress=False, workers=1)
    return out


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _one_line_error(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", ["truncate", "zero", "garbage"])
def test_damaged_data_npy_names_the_file(prepared, tmp_path, capsys, damage):
    root = _copy(prepared, tmp_path / "ds")
    data = root / "data.npy"
    raw = data.read_bytes()
    data.write_bytes({"truncate": raw[: len(raw) // 2], "zero": b"", "garbage": b"\x93NUMPY" + bytes(range(200))}[damage])
    with pytest.raises(SkeletonFileError, match=str(data).replace("\\", r"\\")):
        open_prepared(root)
    _one_line_error(capsys, ["info", str(root)], str(data))


@pytest.mark.parametrize("content", [b'{"format_version": 1, "layout": "ntu', b"\xff\xfe{}", b"[1, 2]", b'{"format_version": 1}'])
def test_corrupt_info_json_names_the_file(prepared, tmp_path, capsys, content):
    root = _copy(prepared, tmp_path / "ds")
    (root / "info.json").write_bytes(content)
    with pytest.raises(SkeletonFileError) as err:
        open_prepared(root)
    assert str(root / "info.json") in str(err.value)
    _one_line_error(capsys, ["info", str(root)], str(root / "info.json"))


def test_corrupt_meta_csv_names_the_file_and_line(prepared, tmp_path, capsys):
    root = _copy(prepared, tmp_path / "ds")
    lines = (root / "meta.csv").read_text().splitlines()
    fields = lines[5].split(",")
    fields[1] = "seven"
    lines[5] = ",".join(fields)
    (root / "meta.csv").write_text("\n".join(lines) + "\n")
    _one_line_error(capsys, ["info", str(root)], str(root / "meta.csv"), "line 6", "'seven'")
    (root / "meta.csv").write_bytes(b"sample_id,label\n\xff\n")
    _one_line_error(capsys, ["info", str(root)], str(root / "meta.csv"))


def test_out_of_range_split_names_the_file_and_line(prepared, tmp_path, capsys):
    from skelssl.data.dataset import SkeletonDataset

    root = _copy(prepared, tmp_path / "ds")
    split = root / "splits" / "xsub_test.txt"
    split.write_text(split.read_text() + "24\n")
    line = len(split.read_text().splitlines())
    ds = open_prepared(root)
    with pytest.raises(SkeletonFileError, match=rf"xsub_test\.txt: line {line}: index 24 outside 0\.\.23"):
        ds.split("xsub", "test")
    with pytest.raises(SkeletonFileError, match=r"xsub_test\.txt"):
        SkeletonDataset(root, protocol="xsub", part="test")
    with pytest.raises(ValueError, match="outside 0..23"):
        SkeletonDataset(root, indices=np.array([0, 99]))
    _one_line_error(capsys, ["info", str(root)], str(split), f"line {line}")


# ---------------------------------------------------------------------------
# Run directories


@pytest.fixture
def run_dir(prepared, tmp_path) -> Path:
    from skelssl.engine.config import load_config, save_config

    run = tmp_path / "run"
    cfg = load_config("skeletonclr_synthetic", [f"data.root={prepared}", "data.recipe=null"])
    save_config(cfg, run)
    (run / "checkpoints").mkdir()
    return run


CHECKPOINT_DAMAGE = {
    "zero-byte": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "random": lambda good: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "header only": lambda good: good[:8 + int.from_bytes(good[:8], "little")],
    "not ours": None,
}


def _good_checkpoint(path: Path) -> bytes:
    import torch

    from skelssl.engine.checkpoint import save_checkpoint

    save_checkpoint(path, {"model/w": torch.ones(64, 64)}, {"epoch": 1, "step": 2, "state": {"model": {"w": {"__tensor__": "model/w"}}}})
    return path.read_bytes()


@pytest.mark.parametrize("damage", list(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage):
    from safetensors.torch import save_file
    import torch

    from skelssl.engine.checkpoint import CheckpointError, load_checkpoint

    path = tmp_path / "ckpt.safetensors"
    good = _good_checkpoint(path)
    if damage == "not ours":
        save_file({"w": torch.ones(2)}, str(path))
    else:
        path.write_bytes(CHECKPOINT_DAMAGE[damage](good))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message, message


def test_checkpoint_whose_header_names_a_missing_tensor(tmp_path):
    import torch

    from skelssl.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "c", {"model/w": torch.ones(2)},
                           {"state": {"model": {"w": {"__tensor__": "model/w"}, "b": {"__tensor__": "model/b"}}}})
    with pytest.raises(CheckpointError, match=r"c\.safetensors: .*'model/b'"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["zero-byte", "truncated", "random"])
def test_evaluate_and_resume_with_a_damaged_checkpoint_exit_2(prepared, run_dir, capsys, damage):
    ckpt = run_dir / "checkpoints" / "last.safetensors"
    good = _good_checkpoint(ckpt)
    ckpt.write_bytes(CHECKPOINT_DAMAGE[damage](good))
    _one_line_error(capsys, ["evaluate", "knn", "--run", str(run_dir), "--quiet"], str(ckpt))
    _one_line_error(capsys, ["pretrain", "skeletonclr_synthetic", "--quiet", "--resume", str(ckpt),
                             f"data.root={prepared}", "data.recipe=null", "train.epochs=1"], str(ckpt))


@pytest.mark.parametrize("text", ["method: {name: skeletonclr\n  encoder: [", "\tmethod:\n", "- a\n- b\n", b"\xff\xfe"])
def test_corrupt_run_config_names_the_file(run_dir, capsys, text):
    path = run_dir / "config.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    _one_line_error(capsys, ["evaluate", "knn", "--run", str(run_dir), "--quiet"], str(path))
