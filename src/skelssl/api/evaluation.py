"""Evaluation of a pretraining run as a library call: ``skelssl.evaluate(run, protocol) -> {view: results}``.

KNN, linear, fine-tune, semi-supervised and t-SNE evaluation of the encoders a
run's method gives (:meth:`~skelssl.methods.base.Method.eval_encoders`), or of
the same encoders with random weights (``random_init``: the frozen floor;
``from_scratch``: the supervised baseline). Output, per protocol (and view, for
methods with several encoders)::

    <run>/eval/<protocol>[_random|_scratch][_<view>]/
        results.json  scores.npy  test_indices.npy  test_labels.npy
        config.yaml  metrics.jsonl  tb/  checkpoints/       (linear, finetune, semi)
        tsne.png                                           (tsne)

Semi-supervised runs are named ``semi_<mode>_<subset>``, e.g.
``semi_finetune_frac0.01_seed0``. ``skelssl evaluate`` is this function behind
an argument parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "PROTOCOLS"]

PROTOCOLS = ("linear", "knn", "finetune", "semi", "tsne")
# Protocols that train the encoder: their random-weight variant is "from scratch", not a frozen floor.
_TRAINS_ENCODER = ("finetune",)


def evaluate(
    run: str | Path | None,
    protocol: str,
    *,
    data: str | Path | None = None,
    view: str | None = None,
    config: str | None = None,
    checkpoint: str | Path | None = None,
    random_init: bool = False,
    from_scratch: bool = False,
    method_config: str | None = None,
    out: str | Path | None = None,
    mode: str | None = None,
    fraction: float | None = None,
    per_class: int | None = None,
    split_file: str | Path | None = None,
    split_seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    seed: int | None = None,
    quiet: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """Evaluate ``run``'s encoder(s) with ``protocol``; returns each view's ``results.json`` content.

    Args:
        run: pretraining run directory (``config.yaml`` + ``checkpoints/``); may be
            ``None`` with ``random_init``/``from_scratch`` and ``method_config``.
        protocol: one of :data:`PROTOCOLS`.
        data: prepared dataset (default: the run's).
        view: this view's encoder only (default: every encoder of the method).
        config: eval config name or YAML (default ``eval/<protocol>_<dataset>`` when
            shipped, else ``eval/<protocol>``); ``overrides`` are ``KEY=VALUE`` on it.
        checkpoint: checkpoint to load (default ``<run>/checkpoints/last``).
        random_init: untrained, frozen encoder weights (the floor for linear, knn, tsne).
        from_scratch: fine-tune from random weights (the baseline for finetune, semi).
        method_config: pretrain config that defines the method, when there is no run.
        out: output directory (default ``<run>/eval/<name>``).
        mode, fraction, per_class, split_file, split_seed: the semi protocol's
            training (``finetune`` or ``linear``) and labelled subset.
        resume: continue an interrupted linear / finetune / semi run (same options as it was started with).
        overwrite: replace an earlier evaluation in the output directory (otherwise refused).
        device, seed, quiet: where to run, ``train.seed`` (``protocol.seed`` for tsne), no progress bar.

    Every override is checked against what the protocol reads before anything runs or is written.
    """
    from omegaconf import OmegaConf

    from skelssl.data.canonical import open_prepared
    from skelssl.engine.config import config_to_dict
    from skelssl.protocols.encoders import pretrained_encoders, read_run_config
    from skelssl.protocols.features import joint_input
    from skelssl.protocols.random_init import random_init_encoders
    from skelssl.protocols.results import EvalContext

    from skelssl.api.rundir import as_interrupted, check_resume_matches, claim_run_dir

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if resume and overwrite:
        raise ValueError("--resume continues an evaluation and --overwrite deletes it: give one of them")
    if resume and protocol in ("knn", "tsne"):
        raise ValueError(f"{protocol} does not train, so there is nothing to resume; run it again (--overwrite)")
    random_init = bool(random_init or from_scratch)
    if from_scratch and protocol not in ("finetune", "semi"):
        raise ValueError("--from-scratch is for finetune and semi; the frozen floor is --random-init")
    if random_init and not from_scratch and protocol == "finetune":
        raise ValueError("fine-tuning from random weights is --from-scratch")
    if run is None and not (random_init and method_config):
        raise ValueError("give --run RUN_DIR (or --random-init/--from-scratch with --method-config and --data)")
    if run is None and out is None:
        raise ValueError("without --run, say where results go with --out")
    semi_options = (mode, fraction, per_class, split_file, split_seed)
    if protocol != "semi" and (mode or fraction or per_class or split_file or split_seed is not None):
        raise ValueError("--mode/--fraction/--per-class/--split-file/--split-seed are for the semi protocol")
    if sum(v is not None for v in (fraction, per_class, split_file)) > 1:
        raise ValueError("give at most one of --fraction, --per-class and --split-file")

    run_dir = Path(run) if run else None
    if run_dir is not None:
        run_cfg = read_run_config(run_dir)
    else:
        from skelssl.engine.config import load_config

        run_cfg = load_config(method_config)

    prepared = open_prepared(_data_root(data, run_cfg, run_dir))
    dataset_name = str(prepared.info.get("dataset") or run_cfg.data.dataset)
    cfg = _load_eval_config(protocol, config, dataset_name, overrides, seed, *semi_options)
    split_protocol = cfg.data.protocol or run_cfg.data.get("protocol") or next(iter(prepared.protocols), None)
    if split_protocol not in prepared.protocols:
        known = ", ".join(prepared.protocols) or "none"
        raise ValueError(f"{prepared.root}: no split protocol {split_protocol!r} (known: {known}); set data.protocol")
    cfg.data.protocol = split_protocol
    cfg.data.root = str(prepared.root)

    seed = int(cfg.train.seed)
    if random_init:
        source = random_init_encoders(run_cfg.method, prepared, seed=seed)
    else:
        source = pretrained_encoders(run_cfg, prepared, checkpoint or run_dir)
    views = list(source.encoders)
    if view is not None:
        if view not in source.encoders:
            raise ValueError(f"{source.method_name} has no {view!r} encoder; it has {', '.join(views)}")
        views = [view]
    if out and len(views) > 1:
        raise ValueError(f"--out names one directory but {len(views)} views would be evaluated; add --view")

    tag = _protocol_tag(protocol, cfg, random_init)
    out_dirs = {v: Path(out) if out else Path(run_dir or ".") / "eval" / (tag if len(source.encoders) == 1
                                                                         else f"{tag}_{v}") for v in views}
    for out_dir in out_dirs.values():
        if resume:
            check_resume_matches(out_dir, cfg)
        else:
            claim_run_dir(out_dir, overwrite=overwrite, what="evaluation directory",
                          resume_flag="--resume" if protocol in ("linear", "finetune", "semi") else None)
    train_ds, test_ds = _splits(prepared, cfg, split_protocol, seed)
    class_names = list(prepared.info.get("class_names") or []) or None
    results: dict[str, dict[str, Any]] = {}
    for v in views:
        out_dir = out_dirs[v]
        out_dir.mkdir(parents=True, exist_ok=True)
        context = EvalContext(
            protocol=protocol,
            method=source.method_name,
            view=v,
            dataset=dataset_name,
            data_root=str(prepared.root),
            split_protocol=split_protocol,
            checkpoint=source.checkpoint,
            random_init=random_init,
            seed=seed,
            class_names=class_names,
            config=config_to_dict(cfg),
            extra={"method_config": OmegaConf.to_container(run_cfg.method, resolve=True),
                   "run_dir": str(run_dir) if run_dir else None, "pretrain": source.meta},
        )
        # Datasets yield joint coordinates; encoders that do not convert to their view themselves get wrapped.
        encoder = joint_input(source.encoders[v], v, prepared.layout)
        try:
            r = _run_protocol(protocol, cfg, encoder, prepared, train_ds, test_ds, out_dir, context,
                              resume=resume, device=device, quiet=quiet)
        except KeyboardInterrupt as err:
            raise as_interrupted(err, out_dir) from None
        results[v] = {**r, "out_dir": str(out_dir)}
    return results


def _splits(prepared: Any, cfg: Any, split_protocol: str, seed: int) -> tuple[Any, Any]:
    """The protocol's training and test datasets, with the clips the eval config's ``data`` section asks for."""
    from skelssl.data.dataset import dataset_from_config

    train_ds = dataset_from_config(prepared, cfg.data, train=True, protocol=split_protocol, part="train", seed=seed)
    test_ds = dataset_from_config(prepared, cfg.data, train=False, protocol=split_protocol, part="test")
    return train_ds, test_ds


def _data_root(data: str | Path | None, run_cfg: Any, run_dir: Path | None) -> Path:
    if data:
        return Path(data)
    if run_cfg.data.get("root"):
        return Path(run_cfg.data.root)
    if run_dir is None:
        raise ValueError("say which prepared dataset to evaluate on with --data")
    # The run's default data location (the synthetic dataset prepared next to the run).
    from skelssl.api.pretraining import prepared_data_root

    return prepared_data_root(run_cfg, run_dir, lambda: None, True)


def _load_eval_config(protocol: str, config: str | None, dataset: str, overrides: Sequence[str], seed: int | None,
                      mode: str | None, fraction: float | None, per_class: int | None,
                      split_file: str | Path | None, split_seed: int | None) -> Any:
    from skelssl.engine.config import list_configs, load_config

    overrides = list(overrides)
    if seed is not None:
        overrides.append(f"{'protocol.seed' if protocol == 'tsne' else 'train.seed'}={seed}")
    if protocol == "semi":
        if fraction is not None:
            overrides += [f"protocol.fraction={fraction}", "protocol.per_class=null", "protocol.split_file=null"]
        elif per_class is not None:
            overrides += [f"protocol.per_class={per_class}", "protocol.fraction=null", "protocol.split_file=null"]
        elif split_file is not None:
            overrides += [f"protocol.split_file={Path(split_file).resolve()}", "protocol.fraction=null",
                          "protocol.per_class=null"]
        if split_seed is not None:
            overrides.append(f"protocol.split_seed={split_seed}")
    if config:
        name = config
    else:
        stem = "semi_linear" if protocol == "semi" and mode == "linear" else protocol
        shipped = set(list_configs("eval"))
        name = f"eval/{stem}_{dataset}" if f"{stem}_{dataset}" in shipped else f"eval/{stem}"
    where: dict[str, str] = {}
    cfg = load_config(name, overrides, origins=where)
    if "protocol" not in cfg:
        raise ValueError(f"config {name!r} has no 'protocol' section")
    from skelssl.api.checks import check_config

    check_config(cfg, "eval", where)
    return cfg


def _protocol_tag(protocol: str, cfg: Any, random_init: bool) -> str:
    from skelssl.protocols.semi import semi_tag

    tag = protocol
    if protocol == "semi":
        p = cfg.protocol
        subset = semi_tag(p.get("fraction"), p.get("per_class"), p.get("split_file"), int(p.get("split_seed", 0)))
        tag = f"semi_{p.get('mode', 'finetune')}_{subset}"
    if random_init:
        semi_finetune = protocol == "semi" and cfg.protocol.get("mode", "finetune") == "finetune"
        trains_encoder = protocol in _TRAINS_ENCODER or semi_finetune
        tag += "_scratch" if trains_encoder else "_random"
    return tag


def _run_protocol(protocol: str, cfg: Any, encoder: Any, prepared: Any, train_ds: Any, test_ds: Any, out_dir: Path,
                  context: Any, *, resume: bool, device: str | None, quiet: bool) -> dict:
    from skelssl.engine.config import save_config

    common = dict(num_classes=prepared.num_classes, context=context)
    if protocol == "knn":
        from skelssl.protocols.knn import run_knn

        return run_knn(encoder, train_ds, test_ds, cfg, out_dir, device=device, **common)
    if protocol == "tsne":
        from skelssl.protocols.tsne import run_tsne

        return run_tsne(encoder, test_ds, cfg, out_dir, context=context, device=device)
    save_config(cfg, out_dir)
    trained = dict(layout=prepared.layout, resume=resume, device=device, quiet=quiet, **common)
    if protocol == "linear":
        from skelssl.protocols.linear import run_linear

        return run_linear(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    if protocol == "finetune":
        from skelssl.protocols.finetune import run_finetune

        return run_finetune(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    from skelssl.protocols.semi import run_semi

    return run_semi(encoder, prepared, test_ds, cfg, out_dir, **trained)
