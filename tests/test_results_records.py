"""The published numbers: every accuracy record is complete and the README's tables are generated from them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REQUIRED = ("dataset", "method", "view", "protocol", "encoder", "top1", "epochs", "seed", "command")
# Throughput measurements (bench_*.json) are timings, not accuracy records.
ACCURACY_FILES = sorted(p for p in RESULTS.glob("*.json") if not p.name.startswith("bench_"))


@pytest.mark.parametrize("path", ACCURACY_FILES, ids=lambda p: p.name)
def test_every_accuracy_record_names_its_setting_and_command(path):
    records = json.loads(path.read_text())
    assert isinstance(records, list) and records, f"{path.name}: expected a non-empty list of records"
    for i, r in enumerate(records):
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, f"{path.name}[{i}] lacks {missing}"
        assert r["encoder"] in ("pretrained", "random", "scratch"), f"{path.name}[{i}] encoder={r['encoder']!r}"
        assert isinstance(r["top1"], (int, float)) and 0 <= r["top1"] <= 100, f"{path.name}[{i}]"
        assert r["command"].split()[0] in ("skelssl", "python", "torchrun") or "skelssl" in r["command"]


def test_readme_tables_match_the_records():
    # python benchmarks/tables.py regenerates them; a hand-edited or stale number fails here.
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tables.py"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_tables_fill_only_their_markers(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import tables
    finally:
        sys.path.pop(0)
    doc = "intro\n<!-- table:nucla_ladder -->\nstale\n<!-- /table -->\noutro\n"
    out = tables.render(doc)
    assert out.startswith("intro\n<!-- table:nucla_ladder -->\n| rung |") and out.endswith("<!-- /table -->\noutro\n")
    assert "stale" not in out
    with pytest.raises(KeyError, match="unknown table 'nope'"):
        tables.render("<!-- table:nope -->\n<!-- /table -->")


def test_seed_group_table_pairs_by_seed_with_a_student_t_interval(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import tables
    finally:
        sys.path.pop(0)
    base = [{"method": "supervised", "label": "Sup.", "labels_per_class": 15, "seed": s, "top1": v}
            for s, v in zip(range(4), (70.0, 72.0, 68.0, 75.0))]
    variant = [{"variant": "K = 5", "labels_per_class": 15, "seed": s, "top1": v}
               for s, v in zip(range(5), (72.0, 72.0, 72.0, 73.0, 99.0))]
    # A run of the same variant at another label count must not join the 15-label pairs.
    variant.append({"variant": "K = 5", "labels_per_class": 5, "seed": 0, "top1": 10.0})
    (tmp_path / "grid.json").write_text(json.dumps(base))
    (tmp_path / "grid_variants.json").write_text(json.dumps(variant))
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    table = tables.semi_seed_groups("grid", "grid_variants", "K = 5", ("supervised",),
                                    {"chosen": (0, 1), "fresh": (2, 3, 4)})
    rows = table.splitlines()[2:]
    # Seed 4 has no baseline run, so "fresh" pairs seeds 2 and 3 only: differences +4 and -2.
    # "chosen": differences +2 and 0, mean +1, sd √2, t(0.975, 1) = 12.706 → ±12.7.
    assert rows == ["| chosen (n=2) | Sup. | 72.0 | 71.0 | +1.0 | -11.7 … +13.7 | 1/2 |",
                    "| fresh (n=2) | Sup. | 72.5 | 71.5 | +1.0 | -37.1 … +39.1 | 1/2 |"]
    with pytest.raises(SystemExit, match="no records of variant 'K = 9'"):
        tables.semi_seed_groups("grid", "grid_variants", "K = 9", ("supervised",), {"all": (0,)})


def test_semi_table_reads_one_label_count_and_pairs_a_variant_column(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import tables
    finally:
        sys.path.pop(0)
    base = [{"method": "supervised", "label": "Sup.", "labels_per_class": n, "seed": s, "top1": v, "paper": 34.1}
            for n, s, v in ((5, 0, 50.0), (5, 1, 54.0), (15, 0, 70.0))]
    variant = [{"variant": "K = 5", "labels_per_class": n, "seed": s, "top1": v}
               for n, s, v in ((5, 0, 53.0), (5, 1, 53.0), (15, 0, 99.0))]
    (tmp_path / "grid.json").write_text(json.dumps(base))
    (tmp_path / "grid_variants.json").write_text(json.dumps(variant))
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    rows = tables.semi_nucla("grid", "grid_variants", ("K = 5",), labels=5).splitlines()
    # No plain ASSL run at 5 labels, so the only paired column is the variant's: +3 and -1, mean +1.0, 1 of 2 won.
    assert rows[0] == "| method | 5 labels/class, ours: mean ± std (seeds) | per seed | paper | " \
                      "ASSL, K = 5 minus it, paired (seeds won) |"
    assert rows[2] == "| Sup. | 52.0 ± 2.8 (n=2) | 50.0 / 54.0 | 34.1 | +1.0 (1/2) |"
    assert rows[3].startswith("| ASSL, K = 5 | 53.0 ± 0.0 (n=2) | 53.0 / 53.0 |")
