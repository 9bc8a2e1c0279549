"""Unsupervised action segmentation: metrics, windows, the synthetic untrimmed videos and PKU-MMD's untrimmed path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import skelssl
from skelssl.data.prepare import prepare_dataset
from skelssl.data.readers import get_reader
from skelssl.models.base import SkeletonEncoder
from skelssl.protocols.segmentation import (frame_features, open_untrimmed, segmentation_metrics, video_split,
                                            window_starts)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_four_segmentation_metrics_on_a_hand_built_confusion_matrix():
    cm = np.array([[5, 1, 0],
                   [2, 3, 1],
                   [0, 0, 4]])  # rows: truth, columns: prediction; 16 frames
    m = segmentation_metrics(cm)
    assert m["acc"] == pytest.approx(12 / 16 * 100)
    assert m["macc"] == pytest.approx((5 / 6 + 3 / 6 + 4 / 4) / 3 * 100)
    iou = [5 / (6 + 7 - 5), 3 / (6 + 4 - 3), 4 / (4 + 5 - 4)]
    assert m["per_class_iou"] == pytest.approx([u * 100 for u in iou])
    assert m["miou"] == pytest.approx(sum(iou) / 3 * 100)
    assert m["fwiou"] == pytest.approx((6 / 16 * iou[0] + 6 / 16 * iou[1] + 4 / 16 * iou[2]) * 100)
    # A class predicted but never true counts in mIoU (IoU 0) but not in MACC; one in neither counts nowhere.
    m = segmentation_metrics(np.array([[2, 1, 0], [0, 0, 0], [0, 0, 0]]))
    assert m["macc"] == pytest.approx(2 / 3 * 100) and m["miou"] == pytest.approx((2 / 3 + 0) / 2 * 100)
    assert m["per_class_iou"][2] is None and m["fwiou"] == pytest.approx(2 / 3 * 100)


def test_windows_cover_every_frame_and_the_last_is_flush_with_the_end():
    assert window_starts(100, 64, 16) == [0, 16, 32, 36]
    assert window_starts(64, 64, 16) == [0] and window_starts(20, 64, 16) == [0]
    assert window_starts(10, 4, 3) == [0, 3, 6]


class MeanX(SkeletonEncoder):
    """Dense map = each joint's x coordinate per frame (D = 1, T' = T): a per-frame signal to recover."""

    feature_dim = 1

    def __init__(self, layout: str = "ntu25") -> None:
        super().__init__()
        from skelssl.data.layouts import get_layout

        self.layout = get_layout(layout)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward_features(self, x):
        return x[:, :1].permute(0, 4, 1, 2, 3)  # (N, M, 1, T, V)


def test_synthetic_untrimmed_videos_and_overlapping_windows_recover_a_per_frame_signal(tmp_path):
    reader = get_reader("synthetic", segmentation=True, num_videos=8, actions_per_video=3, min_gap=10, max_gap=20)
    result = reader.read_item(reader.discover(None)[2], untrimmed=True)
    whole, instances = result.untrimmed, result.sequences
    labels = whole.frame_labels
    assert [s.label for s in instances] == [int(labels[s.extra["start"]]) for s in instances]
    for s in instances:  # each instance is its segment of the video, labelled throughout
        assert np.array_equal(s.joints, whole.joints[:, s.extra["start"]:s.extra["end"]])
        assert np.all(labels[s.extra["start"]:s.extra["end"]] == s.label) and s.sample_id.startswith(whole.sample_id)
    background = labels == -1
    assert 30 <= background.sum() <= 80 and (~background).sum() == sum(s.num_frames for s in instances)

    prepare_dataset("synthetic", tmp_path / "seg", recipe="raw", reader_options={
        "segmentation": True, "num_videos": 8, "actions_per_video": 3, "min_gap": 10, "max_gap": 20},
        workers=1, progress=False)
    from skelssl.data.canonical import open_prepared

    prepared = open_prepared(tmp_path / "seg")
    videos = open_untrimmed(prepared)
    assert len(videos) == 8 and np.array_equal(videos.labels(2), labels)
    train, test = video_split(prepared, videos, "xsub", "train"), video_split(prepared, videos, "xsub", "test")
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(8)) and not set(train) & set(test)
    feats, counts = frame_features(MeanX(), prepared, videos, np.array([2, 5]), window=24, stride=7)
    for f, v in zip(feats, (2, 5)):  # every window sees the same frame identically: the average is exact
        frames = np.asarray(videos.frames(v))  # (T, C, V, M): the raw recipe keeps coordinates as they are
        np.testing.assert_allclose(f[:, 0], frames[:, 0].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert counts["uncovered_frames"] == 0 and counts["empty_windows"] == 0


def _pku_fixture(tmp_path: Path) -> Path:
    from test_pkummd_reader import video_array, write_labels, write_skeleton

    raw = tmp_path / "pku"
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0002-L.txt", video_array())
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0002-M.txt", video_array(seed=100.0))
    write_skeleton(raw / "PKU_Skeleton_Renew" / "0005-R.txt", video_array(seed=200.0))
    write_labels(raw / "Train_Label_PKU_final" / "0002-L.txt", ["5,0,4,1", "12,3,7,2", "3,9,10,1", "51,10,12,1"])
    write_labels(raw / "Train_Label_PKU_final" / "0002-M.txt", ["1,0,3,1", "2,4,8,2"])
    write_labels(raw / "Train_Label_PKU_final" / "0005-R.txt", ["7,2,6,1"])
    split = raw / "Split"
    split.mkdir()
    (split / "cross-subject.txt").write_text("Training videos: \n0002-L, 0002-M, \nValidataion videos: \n0005-R, \n")
    (split / "cross-view.txt").write_text("Training videos: \n0002-M, 0005-R, \nValidataion videos: \n0002-L, \n")
    return raw


def test_pkummd_untrimmed_videos_are_segmented_end_to_end(tmp_path):
    raw = _pku_fixture(tmp_path)
    prepare_dataset("pkummd1", tmp_path / "prepared", raw_dir=raw, reader_options={"segmentation": True},
                    workers=1, progress=False)
    from skelssl.data.canonical import open_prepared

    prepared = open_prepared(tmp_path / "prepared")
    videos = open_untrimmed(prepared)
    assert videos.ids == ["0002-L", "0002-M", "0005-R"] and list(videos.lengths) == [12, 12, 12]
    expected = np.full(12, -1)
    for label, start, end in ((4, 0, 4), (11, 3, 7), (2, 9, 10), (50, 10, 12)):  # later rows win, end exclusive
        expected[start:end] = label
    np.testing.assert_array_equal(videos.labels(0), expected)
    assert list(video_split(prepared, videos, "xsub", "test")) == [2]
    assert list(video_split(prepared, videos, "xview", "test")) == [0]

    method = tmp_path / "method.yaml"
    method.write_text("method: {name: skeletonclr, encoder: {name: stgcn, channels: [4,4,4,4,4,4,4,4,4,8]}, "
                      "queue_size: 8}\ndata: {protocol: xview}\n")
    out = tmp_path / "seg"
    r = skelssl.evaluate(None, "segmentation", data=tmp_path / "prepared", random_init=True, method_config=str(method),
                         out=out, quiet=True, overrides=["protocol.window=8", "protocol.stride=4", "train.epochs=3",
                                                         "data.batch_size=8"])["joint"]
    assert r["num_test_videos"] == 1 and r["num_test_frames"] == 12 and r["num_classes"] == 52
    assert r["class_names"][-1] == "background" and r["test_videos"] == ["0002-L"]
    labels = np.load(out / "frame_labels.npy")
    np.testing.assert_array_equal(labels, np.where(expected < 0, 51, expected))
    pred = np.load(out / "frame_predictions.npy")
    again = segmentation_metrics(np.bincount(labels * 52 + pred, minlength=52 * 52).reshape(52, 52))
    assert again["acc"] == pytest.approx(r["acc"]) and again["miou"] == pytest.approx(r["miou"])
    assert (out / "timeline.png").stat().st_size > 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["protocol"] == "segmentation" and saved["random_init"] is True
