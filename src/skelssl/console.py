"""The rich console that library calls (``skelssl.pretrain`` ...) and the command line print summaries to (stdout)."""

from rich.console import Console

__all__ = ["console"]

console = Console()
