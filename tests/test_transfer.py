"""Transfer across datasets: the kinect20 ⊂ ntu25 joint mapping and ``skelssl evaluate ... --data OTHER``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import skelssl
from skelssl.data.layout_mapping import LayoutAdapter, joint_mapping
from skelssl.data.layouts import get_layout
from skelssl.data.synthetic import KINECT20_FROM_NTU25, SyntheticConfig, generate

NTU, K20 = get_layout("ntu25"), get_layout("kinect20")


def synthetic_pair(n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """The same synthetic samples in both layouts, as (N, C, T, V, 1) batches of their first 20 frames."""
    def batch(layout: str) -> torch.Tensor:
        seqs = generate(SyntheticConfig(num_samples=n, layout=layout, min_length=20, max_length=20), range(n))
        return torch.from_numpy(np.stack([s.joints[0].transpose(2, 0, 1)[..., None] for s in seqs])).float()

    return batch("ntu25"), batch("kinect20")


def test_kinect20_data_lifted_to_ntu25_keeps_the_shared_joints_and_fills_the_rest_from_neighbours():
    ntu, k20 = synthetic_pair()
    lifted = LayoutAdapter("kinect20", "ntu25").adapt(k20)
    assert lifted.shape == ntu.shape
    shared = list(KINECT20_FROM_NTU25)
    torch.testing.assert_close(lifted[:, :, :, shared], ntu[:, :, :, shared])  # the generator's correspondence
    j = NTU.joint
    neck = (ntu[:, :, :, j("spine_shoulder")] + ntu[:, :, :, j("head")]) / 2
    torch.testing.assert_close(lifted[:, :, :, j("neck")], neck)
    for side in ("left", "right"):
        for filled in (f"hand_tip_{side}", f"thumb_{side}"):
            torch.testing.assert_close(lifted[:, :, :, j(filled)], ntu[:, :, :, j(f"hand_{side}")])
    _, report = joint_mapping("kinect20", "ntu25")
    assert report["copied"]["spine_base"] == "hip_center" and report["copied"]["spine_shoulder"] == "shoulder_center"
    assert report["filled"]["neck"] == ["head", "shoulder_center"] and report["dropped"] == []
    assert sorted(report["filled"]) == ["hand_tip_left", "hand_tip_right", "neck", "thumb_left", "thumb_right"]


def test_ntu25_data_for_a_kinect20_encoder_is_the_selection_of_its_20_joints():
    ntu, k20 = synthetic_pair()
    torch.testing.assert_close(LayoutAdapter("ntu25", "kinect20").adapt(ntu), k20)
    w, report = joint_mapping("ntu25", "kinect20")
    assert report["filled"] == {} and set(report["dropped"]) == {"neck", "hand_tip_left", "thumb_left",
                                                                 "hand_tip_right", "thumb_right"}
    assert torch.equal(w.sum(dim=1), torch.ones(20))


def test_layouts_with_other_channels_have_no_mapping():
    with pytest.raises(ValueError, match="different coordinate channels"):
        joint_mapping("openpose18", "ntu25")


def test_evaluate_a_run_on_another_layouts_dataset(tmp_path):
    from skelssl.data.prepare import prepare_dataset

    prepare_dataset("synthetic", tmp_path / "ntu", reader_options={"num_samples": 60}, workers=1, progress=False)
    prepare_dataset("synthetic", tmp_path / "k20", reader_options={"num_samples": 60, "layout": "kinect20", "seed": 1},
                    workers=1, progress=False)
    cfg = tmp_path / "clr.yaml"
    cfg.write_text("base: skeletonclr_synthetic.yaml\nmethod: {encoder: {name: stgcn, channels: [4,4,4,4,4,4,4,4,4,8]},"
                   " queue_size: 16}\ndata: {batch_size: 8, recipe: null}\n"
                   "train: {epochs: 1, tensorboard: false, progress: false}\n")
    run = skelssl.pretrain(cfg, data=tmp_path / "ntu", run_dir=tmp_path / "run", quiet=True)
    info = json.loads((run / "dataset_info.json").read_text())
    assert info["layout"] == "ntu25" and info["dataset"] == "synthetic" and info["num_frames"] == 50

    own = skelssl.evaluate(run, "knn", quiet=True)["joint"]
    other = skelssl.evaluate(run, "knn", data=tmp_path / "k20", quiet=True)["joint"]
    floor = skelssl.evaluate(run, "knn", data=tmp_path / "k20", random_init=True, quiet=True)["joint"]
    assert own["out_dir"].endswith("eval/knn") and other["out_dir"].endswith("eval/knn_on_synthetic")
    assert floor["out_dir"].endswith("eval/knn_random_on_synthetic")
    for r in (other, floor):
        saved = json.loads((tmp_path / "run" / "eval" / r["out_dir"].rsplit("/", 1)[1] / "results.json").read_text())
        assert saved["pretrain_dataset"] == "synthetic" and saved["data_root"] == str(tmp_path / "k20")
        transfer = saved["extra"]["transfer"]
        assert transfer["pretrain_layout"] == "ntu25" and transfer["layout"] == "kinect20"
        assert "neck" in transfer["joint_mapping"]["filled"] and saved["num_test"] == 30  # k20's xsub test half
    assert own["pretrain_dataset"] == "synthetic" and "transfer" not in own.get("extra", {})
