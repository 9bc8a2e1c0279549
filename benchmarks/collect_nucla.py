"""Collect the N-UCLA self-supervised results written by benchmarks/nucla_ssl.sh.

    python benchmarks/collect_nucla.py runs/nucla_ssl [--out benchmarks/results/nucla_ssl.json]

Writes one record per number (method, view, protocol, dataset, top1, epochs,
seed, command, ...) and prints the Markdown table that the README shows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def _pretrain_epochs(run: Path) -> int | None:
    cfg = run / "config.yaml"
    return int(yaml.safe_load(cfg.read_text())["train"]["epochs"]) if cfg.exists() else None


def collect(work: Path) -> list[dict]:
    records = []
    for path in sorted(work.glob("*/eval/*/results.json")):
        run = path.parents[2]
        r = json.loads(path.read_text())
        if "top1" not in r:
            continue
        records.append({
            "method": r["method"], "view": r["view"], "dataset": r["dataset"],
            "protocol": r["protocol"] + (" (random frozen encoder)" if r.get("random_init") else ""),
            "encoder": "random" if r.get("random_init") else "pretrained",
            "top1": round(r["top1"], 2), "top5": round(r["top5"], 2),
            "epochs": 0 if r.get("random_init") else _pretrain_epochs(run),
            "eval_epochs": r.get("epochs"), "seed": r.get("seed"), "command": r.get("command"),
            "run": str(run), "results": str(path),
        })
    for path in sorted(work.glob("ensemble_*/results.json")):
        r = json.loads(path.read_text())
        method, protocol = path.parent.name.split("_")[1:3]
        records.append({
            "method": method, "view": "joint+motion+bone", "dataset": "nucla",
            "protocol": f"{protocol} (3-stream ensemble)", "encoder": "pretrained",
            "top1": round(r["top1"], 2), "top5": round(r.get("top5", float("nan")), 2),
            "epochs": _pretrain_epochs(work / f"{method}_joint") or _pretrain_epochs(work / method),
            "seed": 0, "command": r.get("command"), "results": str(path),
        })
    return records


def table(records: list[dict]) -> str:
    rows = ["| method | view | protocol | encoder | epochs | top-1 % |", "|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["method"], r["encoder"] != "pretrained", r["protocol"], r["view"])):
        rows.append(f"| {r['method']} | {r['view']} | {r['protocol']} | {r['encoder']} | {r['epochs']} | {r['top1']:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nucla_ssl.json"))
    args = parser.parse_args()
    records = collect(args.work)
    args.out.write_text(json.dumps(records, indent=1) + "\n")
    print(table(records))


if __name__ == "__main__":
    main()
