"""The ``skelssl`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import shlex
import sys

from skelssl import __version__
from skelssl.cli import ensemble, evaluate, info, prepare, pretrain, resume, run, semi, show, split, supervised
from skelssl.data.types import SkeletonFileError

__all__ = ["main", "build_parser"]

COMMANDS = (run, prepare, info, show, split, pretrain, resume, evaluate, supervised, semi, ensemble)
# Commands whose run directory `skelssl resume RUN` continues.
_RESUMABLE = ("pretrain", "semi", "supervised", "resume")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skelssl",
        description="Self- and semi-supervised learning of skeleton action representations.",
    )
    parser.add_argument("--version", action="version", version=f"skelssl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (SkeletonFileError, OSError, KeyError, ValueError) as err:
        # User-facing problems (bad input or files, wrong names) get one clear line, not a traceback;
        # every such error names its file, so the line is enough.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"skelssl {args.command}: error: {' '.join(str(message).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"skelssl {args.command}: {_interrupted(err, args, argv)}", file=sys.stderr)
        return 130


def _interrupted(err: KeyboardInterrupt, args: argparse.Namespace, argv: list[str]) -> str:
    """One line: where it stopped, what was saved, the command that continues it."""
    from skelssl.engine.trainer import TrainingInterrupted

    if not isinstance(err, TrainingInterrupted):
        return "interrupted (nothing to resume: no training had started)"
    where = f"interrupted at epoch {err.epoch + 1}/{err.epochs}, step {err.step}; " if err.step >= 0 else \
        "interrupted; "
    if err.checkpoint is None:
        return where + "no checkpoint had been saved yet; run the same command again to start over"
    saved = f"checkpoint: {err.checkpoint}; "
    if args.command in _RESUMABLE:
        return where + saved + f"continue with: skelssl resume {shlex.quote(str(err.run_dir))}"
    again = [a for a in argv if a not in ("--overwrite", "--resume")]
    if args.command == "run" and not getattr(args, "out", None):
        again += ["--out", str(err.run_dir)]
    return where + saved + "continue with: skelssl " + shlex.join(again + ["--resume"])
