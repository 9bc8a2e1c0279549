"""Semi-supervised training as a library call: ``skelssl.semi(method, data=..., labels_per_class=...)``.

Trains and tests a semi-supervised method (ASSL, its ablations and baselines)
on a prepared dataset; ``skelssl semi`` is :func:`semi` behind an argument
parser, and :func:`train_semi` does the work for a loaded config:

1. draws the labeled subset of the protocol's training split with the data
   layer's seeded, class-balanced sampler (``semi.labels_per_class`` /
   ``semi.label_fraction``, seed ``semi.split_seed``, default ``train.seed``)
   or reads ``semi.split_file``; the rest of the training split is unlabeled.
   Every method with the same seed therefore sees exactly the same labels;
2. builds the method, fills its feature bank with one pass over the training
   split, and trains it with the engine's :class:`~skelssl.engine.trainer.Trainer`
   on batches of ``data.batch_size`` labeled + as many unlabeled samples
   (one epoch = one pass over the unlabeled samples; the labeled ones are
   cycled in seeded permutations), with checkpoints and exact ``--resume``;
3. tests the final weights on the protocol's test split (frames sampled with
   ``semi.eval_seed``) and writes ``<run_dir>/results.json`` + scores (see
   :mod:`skelssl.protocols.results`).

``semi.monitor_every = N`` also logs ``test/top1`` every N epochs in
``metrics.jsonl``: a diagnostic curve (does the method overfit its few
labels?), never used to pick the reported number, which is always the last
epoch's.

Pseudo-labelling (``method.name=pseudo_label``, the supervised network) is a
two-stage procedure: it trains in ``<run_dir>/stage1``, labels the unlabeled
samples with its predictions and trains a fresh network on both in ``<run_dir>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from skelssl.data.canonical import PreparedDataset, open_prepared
from skelssl.data.dataset import check_recipe, dataset_from_config, default_clip_frames, load_clips
from skelssl.protocols.results import EvalContext, write_results
from skelssl.protocols.semi import labeled_subset

__all__ = ["semi", "train_semi", "SemiBatches"]


def semi(
    method: str | Path | None,
    *,
    data: str | Path | None = None,
    labels_per_class: int | None = None,
    label_fraction: float | None = None,
    split_file: str | Path | None = None,
    split_seed: int | None = None,
    seed: int | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Train the semi config ``method`` (``assl``, ``supervised``, ``vat`` ... or a YAML path) and test it.

    Exactly one of ``labels_per_class``, ``label_fraction`` or ``split_file``
    says which training samples keep their labels (drawn with ``split_seed``,
    default ``seed``). Returns the written ``results.json`` content; the run
    directory defaults to ``runs/semi-<method>-<timestamp>``. A run directory
    that holds an earlier run is refused unless ``resume`` (which takes the
    run's own config and data; ``method`` and the label options may then be
    omitted) or ``overwrite`` (which clears it). Every override is checked
    before anything is written.
    """
    from skelssl.api.rundir import as_interrupted, claim_run_dir, resume_config
    from skelssl.engine.config import save_config

    settings = []
    for key, value in (("semi.labels_per_class", labels_per_class), ("semi.label_fraction", label_fraction),
                       ("semi.split_file", split_file), ("semi.split_seed", split_seed), ("train.seed", seed)):
        if value is not None:
            settings.append(f"{key}={value}")
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite deletes it: give one of them")
    if resume:
        if not run_dir:
            raise ValueError("--resume needs --run-dir (the run to continue)")
        run_dir = Path(run_dir)
        cfg = resume_config(run_dir, settings + list(overrides), data=data, kind="semi",
                            command=f"skelssl semi {method or 'METHOD'}")
        if method is not None:
            from skelssl.engine.config import load_config

            named = load_config(_config_name(str(method), Path(cfg.data.root))).method.name
            if named != cfg.method.name:
                raise ValueError(f"{run_dir} trains {cfg.method.name}, not {named}; resume it with "
                                 f"`skelssl resume {run_dir}`")
    else:
        if method is None or data is None:
            raise ValueError("give the method and --data (or --resume a run)")
        cfg = _load_semi_config(str(method), Path(data), settings + list(overrides))
        run_dir = Path(run_dir or f"runs/semi-{Path(method).stem}-{datetime.now():%Y%m%d-%H%M%S}")
        _check_label_amount(cfg)
        claim_run_dir(run_dir, overwrite=overwrite)
    try:
        save_config(cfg, run_dir)
        return {**train_semi(cfg, run_dir, resume=resume, quiet=quiet), "run_dir": str(run_dir)}
    except KeyboardInterrupt as err:
        raise as_interrupted(err, run_dir) from None


def _load_semi_config(method: str, data: Path, overrides: list[str]) -> DictConfig:
    """The config with ``data.root`` set, every key checked; exactly one way of choosing the labels."""
    from skelssl.api.checks import check_config
    from skelssl.engine.config import load_config

    where: dict[str, str] = {}
    cfg = load_config(_config_name(method, data), [f"data.root={data.resolve()}", *overrides], origins=where)
    check_config(cfg, "semi", where)
    s = cfg.semi
    if sum(s.get(k) is not None for k in ("labels_per_class", "label_fraction", "split_file")) != 1:
        raise ValueError("give exactly one of --labels-per-class, --label-fraction or --split-file")
    return cfg


def _check_label_amount(cfg: DictConfig) -> None:
    """Refuse a labelled share that leaves less than one batch unlabeled, before anything is drawn or written.

    An epoch is one pass over the unlabeled samples, so it needs at least
    ``data.batch_size`` of them (supervised-only too: the same epochs for every method).
    """
    prepared = open_prepared(cfg.data.root)
    check_recipe(prepared, cfg.data)
    protocol = str(cfg.data.protocol)
    if protocol not in prepared.protocols:
        known = ", ".join(prepared.protocols) or "none"
        raise ValueError(f"{prepared.root}: no split protocol {protocol!r} (known: {known}); set data.protocol")
    s = cfg.semi
    train = prepared.split(protocol, "train")
    counts = np.bincount(prepared.labels[train], minlength=prepared.num_classes)
    counts = counts[counts > 0]
    if s.get("labels_per_class") is not None:
        per_class = int(s.labels_per_class)
        if per_class < 1:
            raise ValueError(f"--labels-per-class must be >= 1, got {per_class}")
        labeled, flag = int(np.minimum(counts, per_class).sum()), f"--labels-per-class {per_class}"
    elif s.get("label_fraction") is not None:
        fraction = float(s.label_fraction)
        if not 0 < fraction <= 1:
            raise ValueError(f"--label-fraction must be in (0, 1], got {fraction}")
        labeled = int(np.maximum(1, np.round(fraction * counts)).astype(int).sum())
        flag = f"--label-fraction {fraction:g}"
    else:
        return  # a published split file: its size is what it is (train_semi checks the batch)
    batch = int(cfg.data.batch_size)
    unlabeled = len(train) - labeled
    if unlabeled < batch:
        most = max(1, (len(train) - batch) // len(counts))
        raise ValueError(f"{flag} labels {labeled} of the {len(train)} {protocol} training samples "
                         f"({len(counts)} classes of {counts.min()}-{counts.max()}), leaving {unlabeled} unlabeled: "
                         f"less than one batch of {batch} (an epoch is a pass over the unlabeled samples); "
                         f"use at most about {most} labels per class")


def _config_name(method: str, data: Path) -> str:
    """``semi/<method>_<dataset>`` when shipped (dataset settings, e.g. N-UCLA's clips), else ``semi/<method>``."""
    import json

    from skelssl.engine.config import list_configs

    if Path(method).suffix in (".yaml", ".yml") or "/" in method:
        return method
    info = data / "info.json"
    dataset = json.loads(info.read_text()).get("dataset") if info.exists() else None
    name = f"{method}_{dataset}"
    return f"semi/{name}" if dataset and name in list_configs("semi") else f"semi/{method}"


class SemiBatches:
    """``epoch -> list of batches``: each pairs ``batch_size`` labeled with as many unlabeled samples.

    The order of both halves is a function of ``(seed, epoch)`` only, as the
    Trainer's exact resume requires. With no unlabeled samples wanted
    (``with_unlabeled=False``) the batches hold only the labeled half, but the
    epoch still has ``steps`` steps, so "epoch" means the same for every method.
    """

    def __init__(self, prepared: PreparedDataset, labeled: np.ndarray, targets: np.ndarray, unlabeled: np.ndarray,
                 batch_size: int, seed: int, with_unlabeled: bool = True, steps: int | None = None,
                 clip_frames: int | None = None, clip_sampling: str = "random") -> None:
        if len(labeled) == 0:
            raise ValueError("semi-supervised training needs at least one labeled sample")
        self.prepared, self.labeled, self.targets, self.unlabeled = prepared, labeled, targets, unlabeled
        self.batch_size, self.seed, self.with_unlabeled = int(batch_size), int(seed), with_unlabeled
        self.clip_frames, self.clip_sampling = clip_frames, clip_sampling
        self.steps = int(steps) if steps is not None else len(unlabeled) // self.batch_size
        if self.steps < 1:
            raise ValueError(f"{len(unlabeled)} unlabeled samples do not fill one batch of {batch_size}")

    def __len__(self) -> int:
        return self.steps

    def __call__(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, epoch])
        need = self.steps * self.batch_size
        cycles = -(-need // len(self.labeled))
        order_l = np.concatenate([rng.permutation(len(self.labeled)) for _ in range(cycles)])[:need]
        order_u = rng.permutation(len(self.unlabeled))[:need]
        labels = self.prepared.labels
        # Random input clips (whole-sequence recipes) from their own stream, so the batch order above
        # does not depend on whether the data has clips.
        clip_rng = np.random.default_rng([self.seed, epoch, 1])

        def load(rows: np.ndarray) -> torch.Tensor:
            return load_clips(self.prepared, rows, clip_frames=self.clip_frames, sampling=self.clip_sampling,
                              rng=clip_rng)

        for s in range(self.steps):
            pick = order_l[s * self.batch_size:(s + 1) * self.batch_size]
            rows_l = self.labeled[pick]
            batch = {"x_l": load(rows_l), "y_l": torch.from_numpy(self.targets[pick]), "i_l": torch.from_numpy(rows_l)}
            if self.with_unlabeled:
                rows_u = self.unlabeled[order_u[s * self.batch_size:(s + 1) * self.batch_size]]
                batch.update(x_u=load(rows_u), y_u=torch.from_numpy(labels[rows_u]), i_u=torch.from_numpy(rows_u))
            yield batch


def _chunks(prepared: PreparedDataset, rows: np.ndarray, clip_frames: int | None,
            size: int = 256) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Evenly spaced clips (or whole samples) of ``rows`` in chunks, for the bank and testing."""
    for s in range(0, len(rows), size):
        part = rows[s:s + size]
        yield load_clips(prepared, part, clip_frames=clip_frames, sampling="uniform"), torch.from_numpy(part)


def _fit(cfg: DictConfig, prepared: PreparedDataset, train_rows: np.ndarray, labeled: np.ndarray,
         targets: np.ndarray, steps: int, run_dir: Path, resume: bool | str,
         quiet: bool) -> tuple[Any, dict[str, Any]]:
    from skelssl.engine.seed import seed_everything
    from skelssl.engine.trainer import Trainer
    from skelssl.methods.base import DatasetInfo, build_method

    seed = int(cfg.train.seed)
    # A stage not yet started when the run was stopped (pseudo-labelling's second) starts fresh.
    resume = resume if (run_dir / "checkpoints" / "last.json").exists() else False
    seed_everything(seed)
    method = build_method(cfg.method, DatasetInfo.from_prepared(prepared))
    method.setup(dataset_from_config(prepared, cfg.data, train=True, indices=train_rows, seed=seed))
    unlabeled = np.setdiff1d(train_rows, labeled)
    audit = np.full(len(prepared), -1, dtype=np.int64)
    audit[train_rows] = prepared.labels[train_rows]
    method.set_labels(labeled, targets, audit)
    clip_frames = _clip_frames(cfg, prepared)
    if method.uses_unlabeled and not resume:  # a resumed run restores the bank from its checkpoint
        method.fill_bank(_chunks(prepared, train_rows, clip_frames), torch.Generator().manual_seed(seed))
    batches = SemiBatches(prepared, labeled, targets, unlabeled, int(cfg.data.batch_size), seed,
                          with_unlabeled=method.uses_unlabeled, steps=steps, clip_frames=clip_frames,
                          clip_sampling=str(cfg.data.get("train_clip", "random")))
    callbacks = []
    every = int(cfg.semi.get("monitor_every") or 0)
    if every:
        from skelssl.engine.callbacks import EvalMonitor

        test_rows, eval_seed = prepared.split(str(cfg.data.protocol), "test"), int(cfg.semi.get("eval_seed", 0))

        def test_accuracy(model: Any) -> dict[str, float]:
            predicted = _predict(model, prepared, test_rows, eval_seed, clip_frames).argmax(dim=1).numpy()
            return {"top1": float((predicted == prepared.labels[test_rows]).mean() * 100)}

        callbacks.append(EvalMonitor(test_accuracy, every=every, prefix="test"))
    trainer = Trainer(method, cfg.train, run_dir, batches, steps_per_epoch=len(batches), callbacks=callbacks,
                      config=cfg, quiet=quiet)
    return method, trainer.fit(resume=resume)


def _clip_frames(cfg: DictConfig, prepared: PreparedDataset) -> int | None:
    value = cfg.data.get("clip_frames", "auto")
    return default_clip_frames(prepared) if value == "auto" else (None if value is None else int(value))


def _predict(method: Any, prepared: PreparedDataset, rows: np.ndarray, seed: int,
             clip_frames: int | None = None) -> torch.Tensor:
    return method.predict((x for x, _ in _chunks(prepared, rows, clip_frames)), seed=seed)


def train_semi(cfg: DictConfig, run_dir: str | Path, *, resume: bool | str = False,
               quiet: bool = False) -> dict[str, Any]:
    """Train ``cfg.method`` semi-supervised per ``cfg`` and test it; returns the written ``results.json``."""
    from skelssl.engine.distributed import is_distributed

    if is_distributed():
        # Each rank would update its own feature bank; neighbours would differ between ranks.
        raise ValueError("skelssl semi runs in a single process (its feature bank is not synchronised across ranks)")
    run_dir = Path(run_dir)
    prepared = open_prepared(cfg.data.root)
    check_recipe(prepared, cfg.data)
    protocol = str(cfg.data.protocol)
    s = cfg.semi
    split_seed = int(s.split_seed if s.get("split_seed") is not None else cfg.train.seed)
    labeled_ds, split_path = labeled_subset(
        prepared, protocol, fraction=s.get("label_fraction"), per_class=s.get("labels_per_class"),
        seed=split_seed, split_file=s.get("split_file"), fallback_dir=run_dir,
    )
    labeled = np.asarray(labeled_ds.indices)
    targets = prepared.labels[labeled].astype(np.int64)
    train_rows = prepared.split(protocol, "train")
    test_rows = prepared.split(protocol, "test")
    eval_seed = int(s.get("eval_seed", 0))
    extra: dict[str, Any] = {}
    unlabeled = np.setdiff1d(train_rows, labeled)
    # One epoch = one pass over the unlabeled samples, for every method (and both pseudo-label stages).
    steps = len(unlabeled) // int(cfg.data.batch_size)

    if cfg.method.name == "pseudo_label":
        from skelssl.methods.base import DatasetInfo, build_method
        from skelssl.protocols.encoders import load_method_weights

        _, first = _fit(cfg, prepared, train_rows, labeled, targets, steps, run_dir / "stage1", resume,
                        quiet)
        method_1 = build_method(cfg.method, DatasetInfo.from_prepared(prepared))
        load_method_weights(method_1, run_dir / "stage1")
        probs = _predict(method_1, prepared, unlabeled, eval_seed, _clip_frames(cfg, prepared)).softmax(dim=1)
        confidence, guess = probs.max(dim=1)
        keep = (confidence >= float(s.get("pseudo_threshold", 0.0))).numpy()
        extra.update(pseudo_labeled=int(keep.sum()),
                     pseudo_label_accuracy=float((guess.numpy()[keep] == prepared.labels[unlabeled][keep]).mean() * 100)
                     if keep.any() else None,
                     stage1_epochs=first["epoch"])
        labeled, targets = (np.concatenate([labeled, unlabeled[keep]]),
                            np.concatenate([targets, guess.numpy()[keep].astype(np.int64)]))
        order = np.argsort(labeled)
        labeled, targets = labeled[order], targets[order]

    method, result = _fit(cfg, prepared, train_rows, labeled, targets, steps, run_dir, resume, quiet)
    scores = _predict(method, prepared, test_rows, eval_seed, _clip_frames(cfg, prepared)).numpy()
    counts = np.bincount(prepared.labels[labeled_ds.indices], minlength=prepared.num_classes)
    context = EvalContext(
        protocol="semi", method=str(cfg.method.name), view="joint", dataset=prepared.info.get("dataset"),
        data_root=str(prepared.root), split_protocol=protocol, checkpoint=str(run_dir / "checkpoints"),
        seed=int(cfg.train.seed), epochs=int(result["epoch"]), class_names=prepared.info.get("class_names"),
        config=OmegaConf.to_container(cfg, resolve=True),
        extra={"labeled_split_file": str(split_path), "labeled_samples": int(len(labeled_ds)),
               "labeled_per_class": counts.tolist(), "split_seed": split_seed, "eval_seed": eval_seed,
               "recipe": (prepared.info.get("recipe") or {}).get("name"), "clip_frames": _clip_frames(cfg, prepared),
               **extra},
    )
    metrics = {"train_" + k: v for k, v in result.get("metrics", {}).items()}
    return write_results(run_dir, context, scores, prepared.labels[test_rows], test_rows,
                         num_classes=prepared.num_classes, extra_metrics=metrics)
