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
from tables import nucla_ssl_table


def _pretrain_epochs(run: Path) -> int | None:
    """Epochs the evaluated checkpoint was trained for (a run stopped early reports where it stopped)."""
    meta = run / "checkpoints" / "last.json"
    if meta.exists():
        return int(json.loads(meta.read_text())["epoch"])
    cfg = run / "config.yaml"
    return int(yaml.safe_load(cfg.read_text())["train"]["epochs"]) if cfg.exists() else None


def _scheduled_epochs(run: Path) -> int | None:
    cfg = run / "config.yaml"
    return int(yaml.safe_load(cfg.read_text())["train"]["epochs"]) if cfg.exists() else None


PROTOCOLS = {
    "knn": "knn",
    "linear": "linear (papers' protocol: raw features, lr 3.0)",
    "linear_std": "linear (standardised features, lr 0.1)",
}


def _protocol_key(eval_dir: str, view: str | None) -> tuple[str, bool]:
    """``linear_std_random_joint`` -> ``("linear_std", True)``: the probe and whether it is the floor."""
    name = eval_dir
    if view and name.endswith(f"_{view}"):
        name = name[: -len(view) - 1]
    random = name.endswith("_random")
    return (name[: -len("_random")] if random else name), random


def collect(work: Path) -> list[dict]:
    records = []
    for path in sorted(work.glob("*/eval/*/results.json")):
        run = path.parents[2]
        r = json.loads(path.read_text())
        if "top1" not in r:
            continue
        key, random = _protocol_key(path.parent.name, r["view"])
        records.append({
            "method": r["method"], "view": r["view"], "dataset": r["dataset"],
            "protocol": PROTOCOLS.get(key, key) + (" (random frozen encoder)" if random else ""),
            "protocol_key": key, "encoder": "random" if random else "pretrained",
            "top1": round(r["top1"], 2), "top5": round(r["top5"], 2),
            "epochs": 0 if random else _pretrain_epochs(run),
            "scheduled_epochs": _scheduled_epochs(run), "recipe": r.get("recipe"),
            "eval_epochs": r.get("epochs"), "seed": r.get("seed"), "command": r.get("command"),
            "run": str(run), "results": str(path),
        })
    for path in sorted(work.glob("ensemble_*/results.json")):
        r = json.loads(path.read_text())
        _, method, key = path.parent.name.split("_", 2)
        records.append({
            "method": method, "view": "joint+motion+bone", "dataset": "nucla",
            "protocol": f"{PROTOCOLS.get(key, key)} (3-stream ensemble)", "protocol_key": key,
            "encoder": "pretrained", "top1": round(r["top1"], 2), "top5": round(r.get("top5", float("nan")), 2),
            "epochs": _pretrain_epochs(work / f"{method}_joint") or _pretrain_epochs(work / method),
            "seed": 0, "command": r.get("command"), "results": str(path),
        })
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nucla_ssl.json"))
    args = parser.parse_args()
    records = collect(args.work)
    args.out.write_text(json.dumps(records, indent=1) + "\n")
    print(nucla_ssl_table(records))


if __name__ == "__main__":
    main()
