"""The resumable pretrain-then-evaluate runner behind ``gao_grid.py`` and ``mcc_ablation.py``.

Every step is one ``skelssl`` command run in a child process (so each number
records the command that produced it). A pretraining run whose last
checkpoint has reached the wanted epochs is skipped, an interrupted one is
resumed; an evaluation whose ``results.json`` exists is skipped. Records are
rebuilt from the run directories on every call, one per number, with the
fields ``dataset, method, view, protocol, encoder (pretrained | random |
scratch), top1, epochs, seed, command`` and some context.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Grid", "Step", "common_arguments", "split_overrides", "write"]


@dataclass
class Step:
    """One number: an evaluation of a run (or of its random / from-scratch baseline)."""

    row: str
    label: str
    run: Path
    protocol: str  # knn | linear | linear_std | finetune | semi5 | semi10 ...
    encoder: str  # pretrained | random | scratch
    args: list[str]  # the `skelssl evaluate ...` arguments
    out: Path
    pretrain_epochs: int
    seed: int
    context: dict[str, Any] = field(default_factory=dict)


class Grid:
    """Runs ``skelssl`` commands under ``work`` with ``threads`` CPU threads each, and collects the records."""

    def __init__(self, work: Path, threads: int | None = None, dry_run: bool = False) -> None:
        self.work = Path(work)
        self.threads = threads
        self.dry_run = dry_run
        self.steps: list[Step] = []
        self.pretrain_commands: dict[Path, str] = {}

    def skelssl(self, args: list[str], log: Path) -> bool:
        env = dict(os.environ)
        if self.threads:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        print("+ skelssl " + shlex.join(args), flush=True)
        if self.dry_run:
            return True
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        with open(log, "a") as handle:
            proc = subprocess.run([sys.executable, "-m", "skelssl", *args], env=env, stdout=handle,
                                  stderr=subprocess.STDOUT)
        if proc.returncode:
            print(f"! failed ({proc.returncode}) after {time.time() - start:.0f} s; see {log}", flush=True)
            return False
        print(f"= done in {time.time() - start:.0f} s", flush=True)
        return True

    def pretrain(self, name: str, config: str, data: Path, epochs: int, seed: int, overrides: list[str]) -> Path | None:
        """``<work>/<name>``, pretrained to ``epochs`` (skipped when done, resumed when interrupted)."""
        run = self.work / name
        last = run / "checkpoints" / "last.json"
        args = ["pretrain", config, "--data", str(data), "--run-dir", str(run), "--seed", str(seed), "--quiet",
                f"train.epochs={epochs}", "train.checkpoint.every_epochs=1", *overrides]
        self.pretrain_commands[run] = "skelssl " + shlex.join(args)
        if last.exists() and json.loads(last.read_text()).get("epoch", 0) >= epochs:
            return run
        resume = ["--resume"] if last.exists() else []
        return run if self.skelssl(args[:2] + resume + args[2:], run / "pretrain.log") else None

    def evaluate(self, step: Step) -> None:
        self.steps.append(step)
        if not (step.out / "results.json").exists():
            # An unfinished evaluation left there is started over (an evaluation directory is not reused silently).
            again = ["--overwrite"] if step.out.exists() else []
            self.skelssl(step.args + again, step.out.parent / f"{step.out.name}.log")

    def records(self) -> list[dict[str, Any]]:
        out = []
        for s in self.steps:
            path = s.out / "results.json"
            if not path.exists():
                continue
            r = json.loads(path.read_text())
            if "top1" not in r:
                continue
            out.append({
                "dataset": r.get("dataset"), "method": r.get("method"), "variant": s.row, "variant_label": s.label,
                "view": r.get("view"),
                "protocol": s.protocol, "encoder": s.encoder, "top1": round(float(r["top1"]), 2),
                "top5": round(float(r["top5"]), 2) if "top5" in r else None,
                "epochs": s.pretrain_epochs if s.encoder == "pretrained" else 0, "eval_epochs": r.get("epochs"),
                "seed": s.seed, "eval_seed": r.get("seed"), "command": "skelssl " + shlex.join(s.args), **s.context,
                "pretrain_command": self.pretrain_commands.get(s.run), "run": str(s.run), "results": str(path),
            })
        return out


def write(records: list[dict[str, Any]], path: Path, markdown: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1) + "\n")
    path.with_suffix(".md").write_text(markdown)
    print(f"wrote {len(records)} records to {path} and the table to {path.with_suffix('.md')}")


def split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """``[... --, KEY=VALUE ...]`` -> (the script's arguments, overrides for every pretraining run)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def common_arguments(p: argparse.ArgumentParser, work: str, config: str, epochs: int, results: Path) -> None:
    """The options both grids take."""
    p.add_argument("--data", required=True, help="prepared dataset directory (e.g. N-UCLA, cross-view)")
    p.add_argument("--work", default=work, help="run directories go here")
    p.add_argument("--config", default=config, help="pretraining config of every row")
    p.add_argument("--epochs", type=int, default=epochs, help="pretraining epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads per command (default: torch's)")
    p.add_argument("--eval-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="for every evaluation")
    p.add_argument("--results", default=str(results), help="records (JSON) and table (.md beside it)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
