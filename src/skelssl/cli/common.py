"""Small helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

import yaml
from rich.table import Table

from skelssl.console import console  # noqa: F401  (the commands print through it)


class IntermixedParser(argparse.ArgumentParser):
    """Lets ``KEY=VALUE`` overrides and options come in any order (plain argparse stops at the first option)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def parse_options(pairs: list[str] | None) -> dict:
    """``["num_samples=500", "layout=kinect20"]`` -> ``{"num_samples": 500, "layout": "kinect20"}``."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options


def add_option_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader-option", action="append", metavar="KEY=VALUE",
                        help="option passed to the dataset reader (repeatable), e.g. num_samples=500")
    parser.add_argument("--recipe-option", action="append", metavar="KEY=VALUE",
                        help="option passed to the recipe (repeatable), e.g. num_frames=64")


def summary_table(summary) -> Table:
    table = Table(title=f"prepared {summary.dataset} with recipe {summary.recipe!r} -> {summary.out_dir}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("work items (files)", str(summary.items))
    table.add_row("samples read", str(summary.samples_read))
    table.add_row("samples kept", str(summary.samples_kept))
    table.add_row("samples skipped", str(len(summary.skipped)))
    for reason, n in sorted(summary.skipped_by_reason.items()):
        table.add_row(f"  skipped: {reason}", str(n))
    if summary.single_frame:
        table.add_row("kept 1-frame sequences (repeated to length)", str(summary.single_frame))
    if summary.resumed_chunks:
        table.add_row("chunks reused from an interrupted run", str(summary.resumed_chunks))
    table.add_row("on error", getattr(summary, "on_error", "raise"))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    return table


def dataset_table(ds) -> Table:
    info = ds.info
    table = Table(title=f"{info['dataset']} at {ds.root}")
    table.add_column("field")
    table.add_column("value")
    table.add_row("samples x (C, T, V, M)", f"{len(ds)} x {tuple(info['shape'][1:])}")
    table.add_row("layout / channels", f"{info['layout']} / {', '.join(info['channels'])}")
    table.add_row("recipe", ", ".join(f"{k}={v}" for k, v in info["recipe"].items()))
    names = info.get("class_names") or [str(i) for i in range(info["num_classes"])]
    counts = info["class_counts"]
    table.add_row("classes", f"{info['num_classes']} ({min(counts)}-{max(counts)} samples each)")
    for proto, parts in info.get("protocols", {}).items():
        sizes = ", ".join(f"{p} {len(ds.split(proto, p))}" for p in parts)
        table.add_row(f"protocol {proto}", sizes)
    table.add_row("class names", ", ".join(names[:12]) + (" ..." if len(names) > 12 else ""))
    return table


def add_run_dir_args(parser: argparse.ArgumentParser, *, resume: bool = True) -> None:
    """``--overwrite`` (and ``--resume``): what to do with a run directory that already holds a run."""
    if resume:
        parser.add_argument("--resume", action="store_true",
                            help="continue the run directory's last checkpoint with the run's own config and data")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete what the run directory holds and start over (default: refuse to reuse it)")
