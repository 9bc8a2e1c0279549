"""A layout declared inline in ``dataset.json`` travels with the prepared data:
``pretrain`` and ``evaluate`` in fresh processes work on it (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

import skelssl
from skelssl.data import layouts
from skelssl.data.canonical import open_prepared
from skelssl.data.prepare import prepare_dataset

# Florence3D's 15 joints (Seidenari et al. 2013), with the roles the crossclr recipe and the methods need.
FLORENCE15 = {
    "name": "test_florence15",
    "joint_names": ["head", "neck", "spine", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
                    "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee",
                    "right_ankle"],
    "bones": [[0, 1], [1, 2], [3, 1], [4, 3], [5, 4], [6, 1], [7, 6], [8, 7], [9, 2], [10, 9], [11, 10], [12, 2],
              [13, 12], [14, 13]],
    "center": 2,
    "mirror_pairs": [[3, 6], [4, 7], [5, 8], [9, 12], [10, 13], [11, 14]],
    "roles": {"spine_base": 2, "spine_mid": 2, "neck": 1, "spine_shoulder": 1, "head": 0, "left_shoulder": 3,
              "right_shoulder": 6, "left_hip": 9, "right_hip": 12, "left_hand": 5, "right_hand": 8,
              "left_foot": 11, "right_foot": 14},
    "description": "Florence3D (Kinect v1 via OpenNI), 15 joints",
}


def _pose() -> np.ndarray:
    p = np.zeros((15, 3))
    p[:, 2] = 3.0
    p[[0, 1, 2]] = [[0, 0.7, 3], [0, 0.5, 3], [0, 0.1, 3]]
    for side, sx in ((0, 1.0), (1, -1.0)):
        s = [3, 6][side]
        p[s:s + 3] = [[0.2 * sx, 0.5, 3], [0.45 * sx, 0.5, 3], [0.7 * sx, 0.5, 3]]
        h = [9, 12][side]
        p[h:h + 3] = [[0.1 * sx, 0.0, 3], [0.1 * sx, -0.45, 3], [0.1 * sx, -0.9, 3]]
    return p


def make_florence_like(root: Path, n: int = 24, frames: int = 30) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = np.zeros((n, 1, frames, 15, 3), np.float32)
    rows = ["sample_id,label,subject,split_xsub"]
    t = np.linspace(0, 2 * np.pi, frames)
    for i in range(n):
        label = i % 2
        pose = np.repeat(_pose()[None], frames, axis=0)
        # Class 0 waves the right hand, class 1 raises the left knee.
        joint, axis = (8, 1) if label == 0 else (10, 1)
        pose[:, joint, axis] += 0.3 * np.sin(t * (1 + label)) + 0.02 * rng.normal(size=frames)
        data[i, 0] = pose
        rows.append(f"s{i:02d},{label},{i % 6},{'train' if i % 6 < 4 else 'test'}")
    np.save(root / "skeletons.npy", data)
    (root / "samples.csv").write_text("\n".join(rows) + "\n")
    (root / "dataset.json").write_text(json.dumps({"layout": FLORENCE15, "num_classes": 2,
                                                   "class_names": ["wave", "knee"]}))
    return root


@pytest.fixture
def florence_prepared(tmp_path) -> Path:
    raw = make_florence_like(tmp_path / "raw")
    out = tmp_path / "prepared"
    prepare_dataset("custom", out, raw, workers=1, progress=False, recipe_options={"num_bodies": 1})
    return out


def test_info_json_holds_the_whole_layout(florence_prepared):
    info = json.loads((florence_prepared / "info.json").read_text())
    assert info["layout"] == "test_florence15"
    spec = info["layout_spec"]
    assert spec["joint_names"] == FLORENCE15["joint_names"] and spec["roles"] == FLORENCE15["roles"]
    assert [list(b) for b in spec["bones"]] == FLORENCE15["bones"]


def test_opening_registers_the_stored_layout(florence_prepared):
    layouts._LAYOUTS.pop("test_florence15")  # as in a fresh process
    ds = open_prepared(florence_prepared)
    assert ds.layout.num_joints == 15 and layouts.get_layout("test_florence15").role("spine_shoulder") == 1
    # Opening again (the same definition) is fine; a different one under the name is named as a conflict.
    open_prepared(florence_prepared)
    info_path = florence_prepared / "info.json"
    info = json.loads(info_path.read_text())
    info["layout_spec"]["center"] = 1
    info["layout_spec"]["bones"] = [[0, 1], [2, 1], [3, 1], [4, 3], [5, 4], [6, 1], [7, 6], [8, 7], [9, 2],
                                    [10, 9], [11, 10], [12, 2], [13, 12], [14, 13]]
    info_path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"info\.json.*test_florence15.*different"):
        open_prepared(florence_prepared)


def _skelssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    src = str(Path(skelssl.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "skelssl", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


@pytest.mark.slow
def test_pretrain_and_evaluate_on_an_inline_15_joint_layout(florence_prepared, tmp_path):
    run = tmp_path / "run"
    done = _skelssl("pretrain", "skeletonclr_synthetic", "--data", str(florence_prepared), "--run-dir", str(run),
                    "--quiet", "data.recipe=null", "train.epochs=1", "data.batch_size=8", "method.queue_size=16", "train.tensorboard=false",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (run / "checkpoints" / "last.safetensors").exists()
    done = _skelssl("evaluate", "knn", "--run", str(run), "--quiet", "protocol.k=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((run / "eval" / "knn" / "results.json").read_text())
    assert result["num_test"] == 8 and result["dataset"] == "custom"
    # A trained protocol saves its config: it names the data it ran on, not the eval config's default.
    skelssl.evaluate(run, "linear", quiet=True, overrides=["train.epochs=1", "train.tensorboard=false"])
    saved = OmegaConf.load(run / "eval" / "linear" / "config.yaml")
    assert saved.data.dataset == "custom" and saved.data.root == str(florence_prepared)
