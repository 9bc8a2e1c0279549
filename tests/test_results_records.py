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
