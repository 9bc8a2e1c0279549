"""``skelssl run``: the main job, end to end.

With no arguments: pretrain SkeletonCLR on the built-in synthetic dataset,
evaluate it (KNN and linear, against the same encoder with random frozen
weights as the floor), plot the training curve, the probes and a t-SNE of the
test embeddings, and print a results table that names the dataset, protocol,
epochs and chance level. Every stage is a library call
(:func:`skelssl.pretrain`, :func:`skelssl.evaluate`) and prints the equivalent
``skelssl pretrain`` / ``skelssl evaluate`` command, so the run directory looks
exactly like one built by hand.
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from skelssl.cli.common import console

# The floor is probed like the pretrained encoder, both through a parameter-free
# BatchNorm: a random encoder's raw features barely differ between samples, which
# would put an unnormalised floor at chance. lr 0.1 suits unit-variance inputs
# (the papers' 3.0 diverges on them).
PROBE_OVERRIDES = ["protocol.feature_norm=batchnorm", "train.optimizer.lr=0.1"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: pretrain, evaluate and report (default: SkeletonCLR on synthetic data)",
        description="Pretrain a method, evaluate it with KNN and a linear probe against a "
        "random-weights floor, and write a run directory with metrics, plots, checkpoints and "
        "a results table. With no arguments it uses the built-in synthetic dataset and takes a "
        "few minutes on a 2-core CPU. Other datasets: prepare them first, then "
        "`skelssl run --data DIR` (the dataset is read from DIR).",
    )
    p.add_argument("--method", default="skeletonclr", help="method (config <method>_<dataset> when shipped, "
                   "else the dataset-independent <method>)")
    p.add_argument("--dataset", help="dataset name (default: synthetic, generated on the fly; else read from --data)")
    p.add_argument("--data", help="prepared dataset directory (every dataset but synthetic)")
    p.add_argument("--out", help="run directory (default: runs/<method>-<dataset>-<timestamp>)")
    p.add_argument("--protocols", nargs="+", default=["knn", "linear"], choices=("knn", "linear", "finetune"),
                   help="evaluation protocols (default: knn linear)")
    p.add_argument("--no-floor", action="store_true", help="skip the random-weights floor")
    p.add_argument("--no-tsne", action="store_true", help="skip the t-SNE plot")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted main job in --out (pretraining from its checkpoint, then every "
                   "evaluation again)")
    p.add_argument("--overwrite", action="store_true", help="delete what --out holds and start over")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="pretraining config overrides")
    p.set_defaults(handler=run_main)


def run_main(args: argparse.Namespace) -> int:
    import torch

    from skelssl.api import evaluate, pretrain
    from skelssl.api.rundir import as_interrupted

    started = time.perf_counter()
    dataset, config = _target(args)
    run = Path(args.out or f"runs/{args.method}-{dataset}-{datetime.now():%Y%m%d-%H%M%S}")
    if args.resume and not args.out:
        raise ValueError("--resume needs --out RUN (the main job to continue)")
    overrides = list(args.overrides)
    if not args.resume and not any(o.split("=")[0].lstrip("+") == "train.log_every" for o in overrides):
        overrides.append("train.log_every=1")  # every step in metrics.jsonl: a loss curve worth plotting
    data = ["--data", args.data] if args.data else []
    evaluations: list[dict[str, Any]] = []
    try:
        if args.resume:
            _show(["resume", str(run), *overrides])
            pretrain(None, run_dir=run, resume=True, data=args.data, overrides=overrides)
        else:
            flags = ["--overwrite"] if args.overwrite else []
            _show(["pretrain", config, "--run-dir", str(run), "--seed", str(args.seed), *data, *flags, *overrides])
            pretrain(config, data=args.data, run_dir=run, seed=args.seed, overrides=overrides,
                     overwrite=args.overwrite)
        for protocol in args.protocols:
            probe = PROBE_OVERRIDES if protocol == "linear" else []
            floor_flag = "from_scratch" if protocol == "finetune" else "random_init"
            for floor in ([{}] if args.no_floor else [{}, {floor_flag: True}]):
                flag = [f"--{k.replace('_', '-')}" for k in floor]
                _show(["evaluate", protocol, "--run", str(run), *flag, *probe])
                with _busy(protocol != "knn", f"{protocol}{' floor' if floor else ''}: extracting features"):
                    results = evaluate(run, protocol, overrides=probe, overwrite=args.resume, **floor)
                for view, r in results.items():
                    evaluations.append(r)
                    console.print(f"  {protocol}{' (' + view + ')' if len(results) > 1 else ''}"
                                  f"{' floor' if floor else ''}: top-1 {r['top1']:.1f} %", markup=False,
                                  highlight=False)
        if not args.no_tsne:
            _show(["evaluate", "tsne", "--run", str(run)])
            with _busy(False, "t-SNE: extracting features and embedding them"):
                evaluate(run, "tsne", overwrite=args.resume)
    except KeyboardInterrupt as err:
        # A probe's own directory is not what `run --resume` continues: the main job's is.
        raise as_interrupted(err, run) from None
    method = json.loads((run / "checkpoints" / "last.json").read_text())["config"]["method"]["name"]
    plots = _plot(run, method, evaluations)
    console.print(results_table(run, evaluations))
    for line in report_lines(run, evaluations, plots, threads=torch.get_num_threads()):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"finished in {time.perf_counter() - started:.0f} s; run directory: {run}", markup=False,
                  highlight=False)
    return 0


def _target(args: argparse.Namespace) -> tuple[str, str]:
    """``(dataset name, pretrain config)`` from ``--dataset`` / ``--data`` / ``--method``."""
    from skelssl.data.readers import list_readers
    from skelssl.engine.config import list_configs

    dataset = args.dataset
    if args.data:
        info = Path(args.data) / "info.json"
        found = json.loads(info.read_text()).get("dataset") if info.exists() else None
        if dataset and found and found != dataset:
            raise ValueError(f"--data {args.data} holds {found}, not {dataset}; drop --dataset or fix --data")
        dataset = dataset or found
    dataset = dataset or "synthetic"
    if dataset not in list_readers():
        close = difflib.get_close_matches(dataset, list_readers(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"--dataset: unknown dataset {dataset!r}{hint}; known: {', '.join(list_readers())}")
    if dataset != "synthetic" and not args.data:
        raise ValueError(f"{dataset} must be prepared first: skelssl prepare {dataset} --raw RAW_DIR --out "
                         f"prepared/{dataset}, then skelssl run --data prepared/{dataset}")
    shipped = list_configs("pretrain")
    if f"{args.method}_{dataset}" in shipped:
        return dataset, f"{args.method}_{dataset}"
    if args.method in shipped:
        return dataset, args.method  # the dataset-independent config, on the prepared data
    methods = sorted({name.split("_")[0] for name in shipped})
    close = difflib.get_close_matches(args.method, methods, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"--method: no pretrain config {args.method!r}{hint}; shipped: {', '.join(shipped)}")


def _busy(has_bar: bool, message: str):
    """A spinner on a terminal while a step without its own progress bar works (KNN, t-SNE)."""
    from contextlib import nullcontext

    if has_bar or not console.is_terminal:
        return nullcontext()
    return console.status(message)


def _show(argv: list[str]) -> None:
    console.print(f"[bold]$ skelssl {' '.join(argv)}[/bold]", highlight=False, soft_wrap=True)


def _rows(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (protocol, view): the pretrained encoder's top-1 and its floor's."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in evaluations:
        key = (r["protocol"], str(r.get("view") or ""))
        row = rows.setdefault(key, {"protocol": r["protocol"], "view": key[1], "pretrained": None, "floor": None,
                                    "settings": _settings(r)})
        row["floor" if r.get("random_init") else "pretrained"] = float(r["top1"])
    return list(rows.values())


def _settings(r: dict[str, Any]) -> str:
    cfg = r.get("config") or {}
    p, train = cfg.get("protocol") or {}, cfg.get("train") or {}
    if r["protocol"] == "knn":
        return f"k={p.get('k')}, τ={p.get('temperature')}, L2-normalised"
    lr = (train.get("optimizer") or {}).get("lr")
    norm = "standardised" if p.get("feature_norm") == "batchnorm" else "raw features"
    if r["protocol"] == "linear":
        return f"{r.get('epochs')} ep, lr {lr:g}, {norm}" if lr is not None else norm
    return f"{r.get('epochs')} ep, lr {lr:g}, end to end" if lr is not None else ""


def _chance(evaluations: list[dict[str, Any]]) -> tuple[float, float] | None:
    """``(uniform chance, majority-class rate)`` in % from the test labels (a confusion matrix's rows)."""
    for r in evaluations:
        cm = r.get("confusion_matrix")
        if cm:
            counts = [sum(row) for row in cm]
            return 100.0 / len(counts), 100.0 * max(counts) / max(1, sum(counts))
    return None


def results_table(run: Path, evaluations: list[dict[str, Any]]):
    from rich.table import Table

    first = evaluations[0] if evaluations else {}
    epochs = _pretrain_epochs(run)
    title = (f"{first.get('method', '')} on {first.get('dataset', '?')} ({first.get('split_protocol', '?')}: "
             f"{first.get('num_train', '?')} train / {first.get('num_test', '?')} test samples, "
             f"{first.get('num_classes', '?')} classes), pretrained {epochs} epoch(s)")
    table = Table(title=title, title_justify="left")
    for col in ("protocol", "settings", "pretrained %", "floor %", "gain"):
        table.add_column(col, justify="left" if col in ("protocol", "settings") else "right", no_wrap=True)
    for row in _rows(evaluations):
        name = row["protocol"] + (f" ({row['view']})" if row["view"] and row["view"] != "joint" else "")
        pre, floor = row["pretrained"], row["floor"]
        diff = f"{pre - floor:+.1f}" if pre is not None and floor is not None else ""
        table.add_row(name, row["settings"], _pct(pre), _pct(floor), diff)
    return table


def report_lines(run: Path, evaluations: list[dict[str, Any]], plots: list[Path], *, threads: int) -> list[str]:
    """What the table means: chance, the floor, where everything is, and a sentence when the floor wins."""
    lines = []
    chance = _chance(evaluations)
    if chance:
        lines.append(f"top-1 on the test split. chance level: {chance[0]:.1f} % (uniform over the classes; the most "
                     f"frequent test class is {chance[1]:.1f} %). floor: the same encoder with random frozen weights "
                     f"(linear, KNN) or trained from scratch (finetune), same probe; gain = pretrained - floor.")
    for row in _rows(evaluations):
        pre, floor = row["pretrained"], row["floor"]
        if pre is not None and floor is not None and floor >= pre:
            lines.append(f"The floor wins under {row['protocol']} ({floor:.1f} % against {pre:.1f} %): this "
                         f"pretraining does not beat random weights on this probe yet, so the number is no "
                         f"evidence that pretraining helped; pretrain longer (train.epochs=...) or compare "
                         f"under KNN.")
    lines.append(f"plots: {', '.join(str(p) for p in plots)}")
    lines.append(f"results: {run / 'eval'}/*/results.json (one per evaluation); training log: "
                 f"{run / 'metrics.jsonl'}; TensorBoard: tensorboard --logdir {run / 'tb'}")
    lines.append(f"torch threads: {threads} (results can differ in the last digits with another thread count)")
    return lines


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _pretrain_epochs(run: Path) -> int | str:
    try:
        return int(json.loads((run / "checkpoints" / "last.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return "?"


def _plot(run: Path, method: str, evaluations: list[dict[str, Any]]) -> list[Path]:
    from skelssl.viz.plots import plot_probe_results, plot_training_curve

    first = evaluations[0] if evaluations else {}
    dataset = first.get("dataset", "")
    plots = []
    loss = plot_training_curve(run / "metrics.jsonl", run / "loss.png",
                               title=f"{method} pretraining on {dataset}: training loss")
    if loss:
        plots.append(loss)
    chance = _chance(evaluations)
    probes = plot_probe_results(
        [{"probe": r["protocol"] + (f" {r['view']}" if r["view"] and r["view"] != "joint" else ""),
          "pretrained": r["pretrained"], "floor": r["floor"]} for r in _rows(evaluations)],
        run / "probes.png", chance=chance[0] if chance else None,
        title=f"{method} ({_pretrain_epochs(run)} epochs) on {dataset}\ntest top-1 against the random-weights floor")
    if probes:
        plots.append(probes)
    tsne = sorted((run / "eval").glob("tsne*/tsne.png"))
    return plots + tsne
