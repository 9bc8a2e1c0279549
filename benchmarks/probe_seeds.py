"""The standardised linear probe over several evaluation seeds: pretrained vs the random floor, paired by seed.

    python benchmarks/probe_seeds.py --runs runs/nucla_ssl/skeletonclr_joint:joint \
        runs/nucla_ssl/skeletonclr_motion:motion runs/nucla_ssl/skeletonclr_bone:bone --seeds 0 1 2

One linear probe (``protocol.feature_norm=batchnorm``, lr 0.1: the README's
"standardised" probe) is one seeded draw: the seed sets the probe's
initialisation and batch order and, for ``--random-init``, the random
encoder itself, and a single draw moves by about ±2 points. For every run and
seed this trains the probe on the pretrained encoder and on a random encoder
with the same seed, so the difference is paired. Seed 0 writes where the
other N-UCLA scripts write (``<run>/eval/linear_std``, ``linear_std_random``),
so their results are reused; other seeds add ``_seed<S>``. Finished
evaluations are skipped. Writes one record per evaluation and the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROBE = ["protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]


def out_dir(run: Path, encoder: str, seed: int) -> Path:
    return run / "eval" / ("linear_std" + ("_random" if encoder == "random" else "") + (f"_seed{seed}" if seed else ""))


def command(run: Path, view: str, encoder: str, seed: int) -> list[str]:
    return ["skelssl", "evaluate", "linear", "--run", str(run), "--view", view, "--quiet", "--overwrite",
            *(["--random-init"] if encoder == "random" else []), *(["--seed", str(seed)] if seed else []),
            "--out", str(out_dir(run, encoder, seed)), *PROBE]


def records(runs: list[tuple[Path, str]], seeds: list[int]) -> list[dict]:
    out = []
    for run, view in runs:
        for encoder in ("pretrained", "random"):
            for seed in seeds:
                path = out_dir(run, encoder, seed) / "results.json"
                if not path.exists():
                    continue
                r = json.loads(path.read_text())
                out.append({"dataset": r["dataset"], "method": r["method"],
                            "view": view, "protocol": "linear (standardised features, lr 0.1)",
                            "protocol_key": "linear_std", "encoder": encoder, "top1": round(r["top1"], 2),
                            "epochs": epoch_count(run) if encoder == "pretrained" else 0, "seed": seed,
                            "eval_seed": seed, "run": str(run),
                            "eval_epochs": r.get("epochs"), "command": r["command"], "results": str(path)})
    return out


def epoch_count(run: Path) -> int | None:
    """Epochs the run trained (its last epoch record), not what its config scheduled."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return None
    epochs = [json.loads(line).get("epoch") for line in path.read_text().splitlines()
              if '"kind": "epoch"' in line]
    return int(max(epochs)) + 1 if epochs else None


def table(recs: list[dict]) -> str:
    head = ("| method | view | epochs | eval seeds | pretrained per seed | floor per seed | difference per seed | "
            "mean difference |")
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for run in dict.fromkeys(r["run"] for r in recs):
        mine = [r for r in recs if r["run"] == run]
        pre = {r["seed"]: r["top1"] for r in mine if r["encoder"] == "pretrained"}
        flo = {r["seed"]: r["top1"] for r in mine if r["encoder"] == "random"}
        seeds = sorted(set(pre) & set(flo))
        if not seeds:
            continue
        diffs = [pre[s] - flo[s] for s in seeds]
        first = next(r for r in mine if r["encoder"] == "pretrained")
        rows.append(f"| {first['method']} | {first['view']} | {first['epochs']} | {', '.join(map(str, seeds))} | "
                    + " / ".join(f"{pre[s]:.1f}" for s in seeds) + " | "
                    + " / ".join(f"{flo[s]:.1f}" for s in seeds) + " | "
                    + " / ".join(f"{d:+.1f}" for d in diffs) + f" | **{statistics.mean(diffs):+.1f}** |")
    return "\n".join(rows) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN:VIEW")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", default=str(ROOT / "results" / "nucla_ssl_probe_seeds.json"))
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args()
    runs = []
    for spec in args.runs:
        run, sep, view = spec.rpartition(":")
        if not sep or not run:
            p.error(f"--runs takes RUN:VIEW, got {spec!r}")
        runs.append((Path(run), view))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    for run, view in runs:
        for encoder in ("pretrained", "random"):
            for seed in args.seeds:
                if (out_dir(run, encoder, seed) / "results.json").exists():
                    continue
                cmd = command(run, view, encoder, seed)
                print("+", shlex.join(cmd), flush=True)
                if not args.dry_run:
                    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    if args.dry_run:
        return 0
    recs = records(runs, args.seeds)
    out = Path(args.results)
    out.write_text(json.dumps(recs, indent=1) + "\n")
    out.with_suffix(".md").write_text(table(recs))
    print(table(recs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
