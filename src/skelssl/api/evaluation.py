"""Evaluation of a pretraining run as a library call: ``skelssl.evaluate(run, protocol) -> {view: results}``.

KNN, linear, fine-tune, semi-supervised, t-SNE and action-segmentation evaluation
(and ActCLR's actionlet pictures) of the encoders a
run's method gives (:meth:`~skelssl.methods.base.Method.eval_encoders`), or of
the same encoders with random weights (``random_init``: the frozen floor;
``from_scratch``: the supervised baseline). Output, per protocol (and view, for
methods with several encoders)::

    <run>/eval/<protocol>[_random|_scratch][_<view>]/
        results.json  scores.npy  test_indices.npy  test_labels.npy
        config.yaml  metrics.jsonl  tb/  checkpoints/       (linear, finetune, semi)
        tsne.png                                           (tsne)
        frame_predictions.npy  frame_labels.npy  timeline.png  (segmentation: no scores.npy)
        average_motion.png  actionlet.png  actionlet.gif       (actionlet)

Semi-supervised runs are named ``semi_<mode>_<subset>``, e.g.
``semi_finetune_frac0.01_seed0``. ``skelssl evaluate`` is this function behind
an argument parser.

Transfer: ``data`` may be another prepared dataset than the run's (pretrain on
A, evaluate on B). The method is rebuilt for the data it was pretrained on
(``<run>/dataset_info.json``), so its weights fit; when B's skeleton layout
differs, B's joints are mapped onto A's (:mod:`skelssl.data.layout_mapping`:
shared joints copied, missing ones filled from their neighbours). The split is
the eval config's ``data.protocol``, else the run's when B has it, else B's
first; results go to ``eval/<name>_on_<B>`` and carry ``pretrain_dataset`` and
the mapping (``extra.transfer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "PROTOCOLS"]

PROTOCOLS = ("linear", "knn", "finetune", "semi", "tsne", "segmentation", "actionlet")
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
    from skelssl.methods.base import DatasetInfo
    from skelssl.protocols.encoders import pretrained_encoders, pretraining_data, read_run_config
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
    pretraining = pretraining_data(run_cfg, run_dir)
    transfer = _is_transfer(pretraining, prepared)
    split_protocol = _split_protocol(cfg, run_cfg, prepared, transfer)
    cfg.data.protocol = split_protocol
    cfg.data.root = str(prepared.root)
    cfg.data.dataset = dataset_name  # the saved config names the data it ran on, not the eval config's default

    # The method is built for the data it was pretrained on, so its weights (and a random floor's
    # architecture) fit; other data is brought to that layout by the joint mapping.
    build_for = _dataset_info(pretraining) if pretraining is not None else DatasetInfo.from_prepared(prepared)
    seed = int(cfg.train.seed)
    if random_init:
        source = random_init_encoders(run_cfg.method, build_for, seed=seed)
    else:
        source = pretrained_encoders(run_cfg, build_for, checkpoint or run_dir)
    views = list(source.encoders)
    if view is not None:
        if view not in source.encoders:
            raise ValueError(f"{source.method_name} has no {view!r} encoder; it has {', '.join(views)}")
        views = [view]
    if out and len(views) > 1:
        raise ValueError(f"--out names one directory but {len(views)} views would be evaluated; add --view")
    mapping = None
    if build_for.layout != prepared.layout.name:
        from skelssl.data.layout_mapping import joint_mapping

        mapping = joint_mapping(prepared.layout, build_for.layout)[1]
    transfer_info = _transfer_record(pretraining, prepared, mapping) if transfer else {}
    if transfer and not quiet:
        _note_transfer(transfer_info)

    tag = _protocol_tag(protocol, cfg, random_init)
    # A transfer evaluation goes beside, not over, the same run's evaluation on its own data.
    suffix = f"_on_{dataset_name}" if transfer else ""
    out_dirs = {v: Path(out) if out else Path(run_dir or ".") / "eval" / ((tag if len(source.encoders) == 1
                                                                          else f"{tag}_{v}") + suffix) for v in views}
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
            pretrain_dataset=None if pretraining is None else pretraining.get("dataset"),
            extra={"method_config": OmegaConf.to_container(run_cfg.method, resolve=True),
                   "run_dir": str(run_dir) if run_dir else None, "pretrain": source.meta,
                   **({"transfer": transfer_info} if transfer else {})},
        )
        # Datasets yield joint coordinates; encoders that do not convert to their view themselves get wrapped.
        encoder = joint_input(source.encoders[v], v, build_for.layout)
        if mapping is not None:
            from skelssl.data.layout_mapping import LayoutAdapter

            encoder = LayoutAdapter(prepared.layout, build_for.layout, encoder)
        try:
            if protocol == "actionlet":
                r = _draw_actionlet(source.method, prepared, cfg, split_protocol, out_dir, context, class_names,
                                    mapping)
            else:
                r = _run_protocol(protocol, cfg, encoder, prepared, train_ds, test_ds, out_dir, context,
                                  resume=resume, device=device, quiet=quiet)
        except KeyboardInterrupt as err:
            raise as_interrupted(err, out_dir) from None
        results[v] = {**r, "out_dir": str(out_dir)}
    return results


def _is_transfer(pretraining: dict | None, prepared: Any) -> bool:
    """Evaluation data other than the pretraining data (another dataset, or the same one prepared elsewhere)."""
    if pretraining is None:
        return False
    if pretraining.get("root"):
        return Path(pretraining["root"]).resolve() != Path(prepared.root).resolve()
    return (pretraining.get("dataset"), pretraining.get("layout")) != (prepared.info.get("dataset"),
                                                                       prepared.layout.name)


def _split_protocol(cfg: Any, run_cfg: Any, prepared: Any, transfer: bool) -> str:
    """The eval config's ``data.protocol``, else the run's (when the evaluation data has it), else its first."""
    known = ", ".join(prepared.protocols) or "none"
    if cfg.data.protocol:
        if cfg.data.protocol not in prepared.protocols:
            raise ValueError(f"{prepared.root}: no split protocol {cfg.data.protocol!r} (known: {known}); "
                             "set data.protocol")
        return str(cfg.data.protocol)
    run_protocol = run_cfg.data.get("protocol")
    if run_protocol in prepared.protocols:
        return str(run_protocol)
    if not transfer and run_protocol:
        raise ValueError(f"{prepared.root}: no split protocol {run_protocol!r} (known: {known}); set data.protocol")
    first = next(iter(prepared.protocols), None)
    if first is None:
        raise ValueError(f"{prepared.root}: the dataset defines no split protocol")
    return str(first)


def _dataset_info(pretraining: dict) -> Any:
    """The :class:`DatasetInfo` of a pretraining record (its layout registered first when it is inline)."""
    from skelssl.data.layouts import layout_from_spec, register_or_reuse
    from skelssl.methods.base import DATASET_FIELDS, DatasetInfo

    if pretraining.get("layout_spec"):
        register_or_reuse(layout_from_spec(pretraining["layout_spec"]))
    return DatasetInfo(**{k: pretraining[k] for k in DATASET_FIELDS if k in pretraining})


def _transfer_record(pretraining: dict, prepared: Any, mapping: dict | None) -> dict[str, Any]:
    return {"pretrain_dataset": pretraining.get("dataset"), "pretrain_layout": pretraining.get("layout"),
            "pretrain_recipe": (pretraining.get("recipe") or {}).get("name"), "pretrain_root": pretraining.get("root"),
            "dataset": prepared.info.get("dataset"), "layout": prepared.layout.name,
            "recipe": (prepared.info.get("recipe") or {}).get("name"), "joint_mapping": mapping}


def _note_transfer(record: dict[str, Any]) -> None:
    from skelssl.console import console

    line = (f"transfer: pretrained on {record['pretrain_dataset']} ({record['pretrain_layout']}), "
            f"evaluated on {record['dataset']} ({record['layout']})")
    if record["joint_mapping"]:
        filled = record["joint_mapping"]["filled"]
        line += f"; joints mapped {record['layout']} -> {record['pretrain_layout']}"
        line += f", filled from neighbours: {', '.join(filled)}" if filled else ""
    if record["pretrain_recipe"] != record["recipe"]:
        line += (f"; note: prepared with recipe {record['recipe']!r}, pretrained on {record['pretrain_recipe']!r} "
                 "data (the encoder sees differently normalised input)")
    console.print(line, markup=False, highlight=False)


def _draw_actionlet(method: Any, prepared: Any, cfg: Any, split_protocol: str, out_dir: Path, context: Any,
                    class_names: list[str] | None, mapping: dict | None) -> dict:
    from skelssl.data.dataset import dataset_from_config
    from skelssl.protocols.actionlet_pictures import run_actionlet

    if mapping is not None:
        raise ValueError("the actionlet pictures are drawn on the pretraining layout; give data of that layout")
    part = str(cfg.protocol.get("part", "test"))
    dataset = dataset_from_config(prepared, cfg.data, train=False, protocol=split_protocol, part=part)
    return run_actionlet(method, dataset, cfg, out_dir, context=context, class_names=class_names)


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
    if protocol == "segmentation":
        from skelssl.data.dataset import default_clip_frames
        from skelssl.protocols.segmentation import run_segmentation

        clip = cfg.data.get("clip_frames", "auto")
        clip = default_clip_frames(prepared) if clip == "auto" else (None if clip is None else int(clip))
        return run_segmentation(encoder, prepared, cfg, out_dir, context=context, clip_frames=clip, resume=resume,
                                device=device, quiet=quiet)
    trained = dict(layout=prepared.layout, resume=resume, device=device, quiet=quiet, **common)
    if protocol == "linear":
        from skelssl.protocols.linear import run_linear

        return run_linear(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    if protocol == "finetune":
        from skelssl.protocols.finetune import run_finetune

        return run_finetune(encoder, train_ds, test_ds, cfg, out_dir, **trained)
    from skelssl.protocols.semi import run_semi

    return run_semi(encoder, prepared, test_ds, cfg, out_dir, **trained)
