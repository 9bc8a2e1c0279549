"""Supervised training from scratch as a library call: ``skelssl.supervised(config, data=...) -> results``.

A freshly initialised encoder (``model.encoder``) and a linear classifier
trained on every label of the protocol's training split, then tested: the
ceiling the self- and semi-supervised numbers are read against
(:mod:`skelssl.protocols.supervised` does the work). ``skelssl supervised`` is
this function behind an argument parser. The run directory holds
``config.yaml``, ``metrics.jsonl``, ``checkpoints/`` and ``results.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["supervised"]


def supervised(
    config: str | Path | None,
    *,
    data: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``config`` (``stgcn_nucla``, ``agcn_nucla``, ``bigru_nucla`` ... or a YAML path) from scratch and test it.

    Returns the written ``results.json`` content plus ``run_dir``. The run
    directory defaults to ``runs/supervised-<config>-<timestamp>``; one that
    holds an earlier run is refused unless ``resume`` (the run's own config and
    data; ``config`` may be omitted) or ``overwrite`` (clears it).
    """
    from skelssl.api.checks import check_config
    from skelssl.api.rundir import as_interrupted, claim_run_dir, resume_config
    from skelssl.engine.config import load_config, save_config
    from skelssl.protocols.supervised import run_supervised

    settings = [f"train.seed={seed}"] if seed is not None else []
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite deletes it: give one of them")
    if resume:
        if not run_dir:
            raise ValueError("--resume needs --run-dir (the run to continue)")
        run_dir = Path(run_dir)
        cfg = resume_config(run_dir, settings + list(overrides), data=data, kind="supervised",
                            command=f"skelssl supervised {config or 'CONFIG'}")
    else:
        if config is None or data is None:
            raise ValueError("give the config and --data (or --resume a run)")
        where: dict[str, str] = {}
        cfg = load_config(_config_name(str(config)), [f"data.root={Path(data).resolve()}", *settings, *overrides],
                          origins=where)
        check_config(cfg, "supervised", where)
        run_dir = Path(run_dir or f"runs/supervised-{Path(str(config)).stem}-{datetime.now():%Y%m%d-%H%M%S}")
        claim_run_dir(run_dir, overwrite=overwrite)
    try:
        save_config(cfg, run_dir)
        results = run_supervised(cfg, run_dir, resume=resume, device=device, quiet=quiet)
    except KeyboardInterrupt as err:
        raise as_interrupted(err, run_dir) from None
    return {**results, "run_dir": str(run_dir), "encoder": str(cfg.model.encoder.name)}


def _config_name(config: str) -> str:
    return config if Path(config).suffix in (".yaml", ".yml") or "/" in config else f"supervised/{config}"
