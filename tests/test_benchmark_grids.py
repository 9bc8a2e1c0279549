"""The resumable benchmark grids (mcc_ablation.py, gao_grid.py, nucla_actclr.py): their commands and tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _dry_run(script: str, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, str(BENCH / script), "--data", "prepared", "--work", "runs/x", "--dry-run",
                           *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line[2:] for line in proc.stdout.splitlines() if line.startswith("+ ")]


@pytest.fixture
def grid_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import gao_grid
        import mcc_ablation

        yield mcc_ablation, gao_grid
    finally:
        sys.path.remove(str(BENCH))


def test_mcc_grid_scales_the_configs_own_lr_steps():
    # mcc_nucla: 100 epochs, x0.1 at 80 -> 16 of 20; mcc (NTU): ST-GCN's 10 and 50 of 80 -> 2.5 and 12.5 of 20.
    nucla = _dry_run("mcc_ablation.py", "--rows", "full", "--epochs", "20")
    assert "'train.schedule.milestones=[16]'" in nucla[0] and nucla[0].startswith("skelssl pretrain mcc_nucla")
    ntu = _dry_run("mcc_ablation.py", "--rows", "full", "--epochs", "20", "--config", "mcc")
    assert "'train.schedule.milestones=[2.5,12.5]'" in ntu[0]


def test_mcc_grid_eval_seeds_repeat_only_the_method_and_its_baseline():
    cmds = _dry_run("mcc_ablation.py", "--rows", "full", "triplet", "--epochs", "2", "--eval-seeds", "1", "2")
    seeded = [c for c in cmds if "--seed 1" in c or "--seed 2" in c]
    # finetune x seeds 1, 2 x (pretrained, scratch); the triplet row is evaluated once.
    assert len(seeded) == 4 and all("full_stgcn_seed0" in c for c in seeded)
    assert sum("--from-scratch" in c for c in seeded) == 2
    assert any(c.endswith("--seed 1") and "eval/finetune_seed1" in c for c in seeded)
    assert sum("triplet_stgcn_seed0/eval" in c for c in cmds) == 1


def test_mcc_table_reports_mean_and_std_over_eval_seeds(grid_modules):
    mcc_ablation, _ = grid_modules
    records = [{"variant": "full", "protocol": "finetune", "top1": t, "encoder": "pretrained", "epochs": 20,
                "dataset": "nucla"} for t in (70.0, 74.0, 78.0)]
    records.append({"variant": "scratch", "protocol": "finetune", "top1": 75.0, "encoder": "scratch", "epochs": 0,
                    "dataset": "nucla"})
    text = mcc_ablation.table(records, ["1"])
    assert "| full: L_triplet + L_NCE + L_Itep (MCC) | 74.0 ± 4.0 (n=3) |" in text
    assert "| scratch: trained from scratch (baseline) | 75.0 |" in text


def test_gao_table_puts_the_random_floor_and_the_margin_beside_each_probe(grid_modules):
    _, gao_grid = grid_modules
    records = [{"variant": "ab", "protocol": "knn", "encoder": "pretrained", "top1": 57.3, "epochs": 20,
                "dataset": "nucla"},
               {"variant": "ab", "protocol": "knn", "encoder": "random", "top1": 37.5, "epochs": 0,
                "dataset": "nucla"}]
    assert "| ab: (α, β) random, γ fixed | 57.3 | 37.5 | +19.8 |" in gao_grid.table(records)


def test_actclr_variant_runs_beside_the_shared_stage1_and_needs_its_own_results_file():
    args = ["--views", "joint", "--methods", "aimclr", "actclr", "--epochs", "2", "--actclr-suffix", "sgd",
            "--actclr-overrides", "train.optimizer.name=sgd"]
    cmds = _dry_run("nucla_actclr.py", *args, "--results", "runs/x/variant.json")
    actclr = [c for c in cmds if c.startswith("skelssl pretrain actclr_nucla")]
    assert len(actclr) == 1 and "runs/x/actclr_joint_sgd " in actclr[0]
    assert "method.stage1=runs/x/aimclr_joint " in actclr[0] and actclr[0].endswith("train.optimizer.name=sgd")
    assert not any("train.optimizer.name=sgd" in c for c in cmds if c.startswith("skelssl pretrain aimclr"))
    proc = subprocess.run([sys.executable, str(BENCH / "nucla_actclr.py"), "--data", "prepared", "--work", "runs/x",
                           "--dry-run", *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "its own --results file" in proc.stderr


def test_actclr_variant_ensembles_its_own_streams(tmp_path):
    # A variant's 3-stream ensemble reads the variant's runs and writes its own directory and
    # labelled record; the shipped config's ensemble is untouched.
    sys.path.insert(0, str(BENCH))
    try:
        import argparse
        import json

        import nucla_actclr
    finally:
        sys.path.remove(str(BENCH))

    class FakeGrid:
        def __init__(self):
            self.commands = []

        def skelssl(self, cmd, log):
            self.commands.append(cmd)
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True)
            (out / "results.json").write_text(json.dumps({"dataset": "nucla", "top1": 66.0, "top5": 90.0}))

    runs = {}
    for view in ("joint", "motion", "bone"):
        run = tmp_path / f"actclr_{view}_v"
        for probe in nucla_actclr.PROBES:
            (run / "eval" / probe).mkdir(parents=True)
            (run / "eval" / probe / "results.json").write_text("{}")
        runs[("actclr", view)] = run
    args = argparse.Namespace(methods=["actclr"], work=str(tmp_path), actclr_overrides=["method.x=1"],
                              actclr_suffix="v", epochs=20, seed=0)
    grid = FakeGrid()
    records = nucla_actclr.ensembles(grid, runs, args)
    assert len(grid.commands) == len(nucla_actclr.PROBES)
    assert all(str(runs[("actclr", "bone")]) in cmd and str(tmp_path / "ensemble_actclr_v_") in " ".join(cmd)
               for cmd in grid.commands)
    assert len(records) == len(nucla_actclr.PROBES)
    assert all(r["actclr_variant"]["suffix"] == "v" and r["view"] == "joint+motion+bone" for r in records)
    assert not (tmp_path / "ensemble_actclr_knn").exists()


def test_semi_grid_variant_records_merge_into_their_file(tmp_path):
    # semi_nucla.py --variant tags a work directory's runs with the variant and its overrides and
    # replaces only that variant's earlier records of the same runs in --out: another variant, and the
    # same variant's other label counts and seeds, stay.
    import json

    run = tmp_path / "work" / "assl_15pc_seed3"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps({
        "config": {"method": {"name": "assl", "encoder": {"name": "bigru", "hidden_size": 128}}},
        "dataset": "nucla", "seed": 3, "top1": 57.25, "top5": 90.0, "epochs": 20, "command": "skelssl semi assl --quiet method.neighbours=5"}))
    out = tmp_path / "variants"
    old = {"variant": "K = 5", "method": "assl", "labels_per_class": 15, "top1": 1.0, "seed": 3}
    other = {"variant": "one-sided", "method": "assl", "labels_per_class": 15, "top1": 2.0, "seed": 3}
    fewer_labels = dict(old, labels_per_class=5, top1=3.0)
    out.with_suffix(".json").write_text(json.dumps([old, other, fewer_labels]))
    proc = subprocess.run([sys.executable, str(BENCH / "semi_nucla.py"), "--work", str(tmp_path / "work"),
                           "--collect-only", "--variant", "K = 5", "--out", str(out), "--", "method.neighbours=5"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.with_suffix(".json").read_text())
    assert records[:2] == [other, fewer_labels] and len(records) == 3
    # Overrides the runs did not use are refused: the tag would misdescribe them.
    wrong = subprocess.run([sys.executable, str(BENCH / "semi_nucla.py"), "--work", str(tmp_path / "work"),
                            "--collect-only", "--variant", "K = 3", "--out", str(out), "--", "method.neighbours=3"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert wrong.returncode != 0 and "not in their commands: ['method.neighbours=3']" in wrong.stderr
    new = records[2]
    assert (new["variant"], new["overrides"], new["top1"], new["seed"]) == ("K = 5", ["method.neighbours=5"], 57.25, 3)


def test_semi_grid_merge_adds_a_second_work_directory(tmp_path):
    # semi_nucla.py --merge: baselines run later in another work directory join --out's records;
    # a seed run again replaces its old record, every other record stays.
    import json

    def finished(row, seed, top1):
        run = tmp_path / "work" / f"{row}_15pc_seed{seed}"
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps({
            "config": {"method": {"name": row, "encoder": {"name": "stgcn_quarter"}}},
            "dataset": "nucla", "seed": seed, "top1": top1, "top5": 90.0, "epochs": 30,
            "command": f"skelssl semi {row} --seed {seed}"}))

    finished("s4l", 0, 71.12)
    finished("assl", 1, 70.0)
    out = tmp_path / "grid"
    earlier = [{"method": "assl", "labels_per_class": 15, "seed": 0, "top1": 69.18, "epochs": 30},
               {"method": "assl", "labels_per_class": 15, "seed": 1, "top1": 66.59, "epochs": 30}]
    out.with_suffix(".json").write_text(json.dumps(earlier))
    proc = subprocess.run([sys.executable, str(BENCH / "semi_nucla.py"), "--work", str(tmp_path / "work"),
                           "--collect-only", "--merge", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.with_suffix(".json").read_text())
    assert sorted((r["method"], r["seed"], r["top1"]) for r in records) == [
        ("assl", 0, 69.18), ("assl", 1, 70.0), ("s4l", 0, 71.12)]
    md = out.with_suffix(".md").read_text()
    assert "| ASSL | 69.6 ± 0.6 (n=2)" in md and "| S4L" in md
    # --rows / --seeds choose what is collected: the work directory's older ASSL run (seed 1) must not
    # replace the record of a later protocol when only new baseline seeds are merged.
    finished("s4l", 5, 72.84)
    out.with_suffix(".json").write_text(json.dumps(earlier))
    proc = subprocess.run([sys.executable, str(BENCH / "semi_nucla.py"), "--work", str(tmp_path / "work"),
                           "--collect-only", "--merge", "--rows", "s4l", "--seeds", "5", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.with_suffix(".json").read_text())
    assert sorted((r["method"], r["seed"], r["top1"]) for r in records) == [
        ("assl", 0, 69.18), ("assl", 1, 66.59), ("s4l", 5, 72.84)]
