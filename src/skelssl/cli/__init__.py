"""The ``skelssl`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import sys

from skelssl import __version__
from skelssl.cli import ensemble, evaluate, info, prepare, pretrain, run, semi, split, supervised
from skelssl.data.types import SkeletonFileError

__all__ = ["main", "build_parser"]

COMMANDS = (run, prepare, info, split, pretrain, evaluate, supervised, semi, ensemble)


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
