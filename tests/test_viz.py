"""The skeleton renderer (``skelssl show``) and the run plots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from skelssl.cli import main
from skelssl.data.layouts import get_layout
from skelssl.viz.skeleton import _Drawing, prepare_sequence, render_gif, render_strip


def _walker(t: int = 12, valid: int = 9, bodies: int = 2) -> np.ndarray:
    """A kinect20 body moving along x for ``valid`` frames, zero padding after; body slot 2 empty."""
    lay = get_layout("kinect20")
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(3, lay.num_joints)) * 0.2 + np.array([[0.0], [1.0], [3.0]])
    x = np.zeros((3, t, lay.num_joints, bodies))
    for f in range(valid):
        x[:, f, :, 0] = pose + np.array([[0.05 * f], [0.0], [0.0]])
    return x


def test_prepare_sequence_keeps_valid_frames_and_present_bodies():
    view = prepare_sequence(_walker(), "kinect20")
    assert view.joints.shape == (9, 1, 20, 3)  # padding frames and the empty body slot left out
    assert view.three_d and [p[0] for p in view.panels] == ["front (x-y)", "side (z-y)"]
    assert np.array_equal(view.frames, np.arange(9))
    short = prepare_sequence(_walker(), "kinect20", valid_frames=4, weights=np.arange(20.0))
    assert short.joints.shape[0] == 4 and short.weights.shape == (4, 20)
    assert np.array_equal(short.weights[3], np.arange(20.0))
    per_frame = np.arange(12 * 20.0).reshape(12, 20)
    assert np.array_equal(prepare_sequence(_walker(), "kinect20", weights=per_frame).weights, per_frame[:9])


@pytest.mark.parametrize("bad, message", [
    (dict(x=np.zeros((3, 5, 20))), "no body"),
    (dict(x=np.ones((3, 5, 25))), "has 20"),
    (dict(x=np.ones((2, 5, 20))), "channels"),
    (dict(x=np.ones((3, 5, 20)), weights=np.ones(19)), "weights must be"),
    (dict(x=np.ones((3, 5, 20)), weights=np.full(20, np.nan)), "NaN"),
])
def test_prepare_sequence_refuses_what_it_cannot_draw(bad, message):
    with pytest.raises(ValueError, match=message):
        prepare_sequence(bad.pop("x"), "kinect20", **bad)


def test_each_bone_is_drawn_between_its_two_joints():
    x = _walker()
    view = prepare_sequence(x, "kinect20", weights=np.linspace(0, 1, 20))
    drawing = _Drawing(view, title="t")
    try:
        drawing.show(5)
        for ax, lines, dots, h, k, label in drawing.artists:
            assert label.get_text() == "frame 6"
            pts = x[:, 5, :, 0].T  # (V, C)
            for line, (child, parent) in zip(lines[0], view.layout.bones):
                xs, ys = line.get_data()
                assert np.allclose(xs, [pts[child, h], pts[parent, h]]) and np.allclose(ys, [pts[child, k],
                                                                                            pts[parent, k]])
            assert np.allclose(dots[0].get_offsets(), pts[:, [h, k]])
            assert np.allclose(dots[0].get_array(), np.linspace(0, 1, 20))  # colour = weight
    finally:
        drawing.close()


def test_gif_has_one_frame_per_valid_frame_and_strip_the_asked_frames(tmp_path):
    gif = render_gif(_walker(), "kinect20", tmp_path / "walk.gif", title="walk", fps=10)
    with Image.open(gif) as im:
        assert im.n_frames == 9 and im.info["duration"] == 100
        first = np.asarray(im.convert("RGB")).copy()
        im.seek(8)
        last = np.asarray(im.convert("RGB"))
    assert (first != last).any()  # the body moved
    narrow = render_strip(_walker(), "kinect20", tmp_path / "s3.png", num_frames=3)
    wide = render_strip(_walker(), "kinect20", tmp_path / "s8.png", num_frames=8)
    with Image.open(narrow) as a, Image.open(wide) as b:
        assert b.size[0] > 2 * a.size[0] and a.size[1] == b.size[1]


def test_show_a_real_nucla_sample(nucla_dir, tmp_path, capsys):
    prepared = tmp_path / "nucla"
    assert main(["prepare", "nucla", "--raw", str(nucla_dir), "--out", str(prepared), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["show", str(prepared), "a01_s01_e00_v01", "--out", str(tmp_path / "a01.gif")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "sample 0 (a01_s01_e00_v01, class 0 'pick up with one hand', 44 valid frames, layout kinect20)" in out
    with Image.open(tmp_path / "a01.gif") as im:
        assert im.n_frames == 44
    weights = tmp_path / "w.npy"
    np.save(weights, np.linspace(0.0, 1.0, 20))
    assert main(["show", str(prepared), "17", "--out", str(tmp_path / "s17.png"), "--weights", str(weights)]) == 0
    assert (tmp_path / "s17.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["show", str(prepared), "a01_s01_e00_vO1", "--out", str(tmp_path / "x.gif")]) == 2
    assert "did you mean 'a01_s01_e00_v01'" in capsys.readouterr().err
    np.save(weights, np.ones(25))
    assert main(["show", str(prepared), "3", "--weights", str(weights), "--out", str(tmp_path / "y.gif")]) == 2
    assert "weights must be (20,)" in capsys.readouterr().err and not (tmp_path / "y.gif").exists()


def test_training_curve_and_probe_plots(tmp_path):
    from skelssl.viz.plots import plot_probe_results, plot_training_curve, smooth

    assert np.allclose(smooth([1, 2, 3, 4], window=2), [1, 1.5, 2.5, 3.5])
    rows = [{"kind": "step", "epoch": s // 4, "step": s, "loss": 5.0 / s, "lr": 0.1 if s < 9 else 0.01}
            for s in range(1, 13)]
    rows += [{"kind": "epoch", "epoch": e, "step": 4 * (e + 1), "loss": 1.0} for e in range(3)]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"cut off')
    assert plot_training_curve(metrics, tmp_path / "loss.png", title="toy").stat().st_size > 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert plot_training_curve(empty, tmp_path / "none.png", title="toy") is None
    out = plot_probe_results([{"probe": "knn", "pretrained": 40.0, "floor": 20.0},
                              {"probe": "linear", "pretrained": 50.0, "floor": None}],
                             tmp_path / "probes.png", title="toy", chance=10.0)
    assert out.stat().st_size > 0
