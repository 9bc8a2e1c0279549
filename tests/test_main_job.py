"""`skelssl run` end to end on a small synthetic dataset: pretrain, evaluate, plot, report."""

import json

from skelssl.cli import main


def test_main_job_small(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["run", "--out", str(run), "--no-tsne", "train.epochs=1",
                 "data.reader_options.num_samples=240", "data.batch_size=32"])
    assert code == 0
    out = capsys.readouterr().out
    assert "results:" in out and "random (floor)" in out
    assert (run / "loss.png").stat().st_size > 0
    assert (run / "checkpoints" / "last.safetensors").exists()
    results = {p.parent.name: json.loads(p.read_text()) for p in (run / "eval").glob("*/results.json")}
    assert set(results) == {"knn", "knn_random", "linear", "linear_random"}
    for name, r in results.items():
        assert r["num_test"] == 120 and 0 <= r["top1"] <= 100
        assert r["random_init"] == name.endswith("_random")
        assert len(r["confusion_matrix"]) == 10
