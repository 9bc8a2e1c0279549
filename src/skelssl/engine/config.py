"""Run configuration: shipped or user YAML files, ``base:`` inheritance, dotted overrides.

``load_config("skeletonclr", ["train.epochs=5"])`` looks the name up in the
package's ``configs/`` (``pretrain/``, ``eval/``, ``semi/``, then the top level), or
reads a path. A file may name ``base: other.yaml`` (or a list of them): the
bases are merged underneath it, resolved next to the file first and as shipped
names second. A mapping holding ``_replace_: true`` replaces the inherited
mapping instead of merging into it (switching ``train.schedule`` from ``step``
to ``cosine`` must not keep the old ``milestones``).

Command-line overrides are ``key.path=value`` (YAML values; new keys are
accepted inside existing free-form sections), ``+key=value`` to also create
missing sections, ``~key`` to delete a key. Overriding ``train.optimizer.name`` or ``train.schedule.name``
drops the options the new choice does not take, and a file that names a
different optimiser/schedule than its base starts that section afresh. The engine's
sections ``train`` and ``data`` are checked against their known keys, so a
typo is an error naming the file (or override) that introduced it instead of a
silently ignored setting; ``method`` and other sections are free-form kwargs.
"""

from __future__ import annotations

import copy
import difflib
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from skelssl.data.canonical import atomic_write_text

__all__ = [
    "TRAIN_DEFAULTS",
    "DATA_DEFAULTS",
    "ConfigError",
    "load_config",
    "save_config",
    "train_config",
    "config_to_dict",
    "list_configs",
    "resolve_config_source",
    "override_key",
]

TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 300,
    "max_steps": None,  # debug/CI: stop (with a checkpoint) after this many optimiser steps
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1.0e-4, "nesterov": False},
    "schedule": {"name": "step", "milestones": [250], "gamma": 0.1, "warmup_epochs": 0},
    "grad_clip": None,
    "amp": "auto",
    "seed": 0,
    "deterministic": False,
    "drop_last": True,
    "log_every": 10,
    "tensorboard": True,
    "progress": True,
    "sync_bn": False,
    "find_unused_parameters": None,  # None: ask the model's `find_unused_parameters` attribute
    # every_minutes: also a mid-epoch checkpoint once this much time has passed since the last one, so a
    # run killed in a long (or its first) epoch resumes close to where it stopped; 0 = off.
    "checkpoint": {"every_steps": 0, "every_minutes": 5, "every_epochs": 1, "keep_last": 2, "monitor": None,
                   "mode": "max"},
    "knn_monitor": {"every": 0, "k": 20, "temperature": 0.1, "part": "test", "batch_size": 256},
}

DATA_DEFAULTS: dict[str, Any] = {
    "dataset": "synthetic",
    "root": None,
    "protocol": "xsub",
    "part": "train",
    "recipe": None,
    "batch_size": 128,
    "num_workers": 0,
    "reader_options": {},
    "recipe_options": {},  # options of data.recipe when the config generates its data (synthetic)
    # Input clips of recipes that store whole sequences (agc_lstm): "auto" = the recipe's length,
    # null = whole samples, or a frame count; training draws them "random" (or "uniform", as testing does).
    "clip_frames": "auto",
    "train_clip": "random",
}

# Sections checked key by key; inside them these sub-mappings are free-form kwargs.
_STRICT = {"train": TRAIN_DEFAULTS, "data": DATA_DEFAULTS}
_FREE = {"train.optimizer", "train.schedule", "data.reader_options", "data.recipe_options"}
_REPLACE = "_replace_"
_MAX_BASE_DEPTH = 16


class ConfigError(ValueError):
    """A config problem; the message names the file or override responsible."""


def _config_root() -> Any:
    return resources.files("skelssl").joinpath("configs")


def list_configs(group: str = "pretrain") -> list[str]:
    """Names of the shipped configs in ``configs/<group>/``."""
    folder = _config_root().joinpath(group)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _is_pathlike(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or os.sep in name


def resolve_config_source(name_or_path: str | os.PathLike, near: Any = None) -> tuple[Any, str]:
    """``(file, origin)`` for a config name or path; ``near`` is the including file's folder."""
    key = os.fspath(name_or_path)
    candidates: list[tuple[Any, str]] = []
    if near is not None:
        candidates.append((near.joinpath(key), _origin(near, key)))
    candidates.append((Path(key), key))
    stem = key[: -len(".yaml")] if key.endswith(".yaml") else key
    root = _config_root()
    for sub in ("pretrain", "eval", "semi", ""):
        rel = f"{sub}/{stem}.yaml" if sub else f"{stem}.yaml"
        candidates.append((root.joinpath(*rel.split("/")), f"skelssl/configs/{rel}"))
    for source, origin in candidates:
        try:
            if source.is_file():
                return source, origin
        except OSError:
            continue
    if _is_pathlike(key) and not key.startswith(("pretrain/", "eval/", "semi/")):
        raise FileNotFoundError(f"config file {key!r} does not exist")
    shipped = [f"{group}/{n}" for group in ("pretrain", "eval", "semi") for n in list_configs(group)]
    raise FileNotFoundError(f"unknown config {key!r}; shipped: {', '.join(shipped) or 'none'}")


def _origin(folder: Any, name: str) -> str:
    if isinstance(folder, Path):
        return str(folder / name)
    # A packaged folder: show the path inside the package, not a zip/site-packages path.
    parts = str(folder).replace(os.sep, "/").split("/skelssl/configs")
    return f"skelssl/configs{parts[-1]}/{name}" if len(parts) > 1 else name


def _read_layers(source: Any, origin: str, depth: int, chain: tuple[str, ...]) -> list[tuple[str, dict]]:
    """Bases first, then the file itself, each as ``(origin, plain mapping)``."""
    if depth > _MAX_BASE_DEPTH or origin in chain:
        raise ConfigError(f"{origin}: 'base' inheritance cycle: {' -> '.join(chain + (origin,))}")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: invalid YAML: {err}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a config file must hold a mapping, got {type(data).__name__}")
    bases = data.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{origin}: 'base' must be a file name or a list of them, got {bases!r}")
    folder = source.parent if isinstance(source, Path) else _parent(source, origin)
    layers: list[tuple[str, dict]] = []
    for base in bases:
        try:
            base_source, base_origin = resolve_config_source(base, near=folder)
        except FileNotFoundError as err:
            raise ConfigError(f"{origin}: base {base!r} not found ({err})") from None
        layers += _read_layers(base_source, base_origin, depth + 1, chain + (origin,))
    layers.append((origin, data))
    return layers


def _parent(source: Any, origin: str) -> Any:
    # importlib Traversables have no .parent; rebuild it from the packaged origin.
    rel = origin[len("skelssl/configs/") :].split("/")[:-1] if origin.startswith("skelssl/configs/") else []
    return _config_root().joinpath(*rel) if rel else _config_root()


def _merge_into(dst: dict, src: Mapping, origin: str, origins: dict[str, str], prefix: str = "") -> None:
    for key, value in src.items():
        if key == _REPLACE:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if value.get(_REPLACE) or not isinstance(dst.get(key), dict) or _renamed(path, dst[key], value):
                dst[key] = {}
                _forget(origins, path)
            _merge_into(dst[key], value, origin, origins, path + ".")
            origins.setdefault(path, origin)
        else:
            dst[key] = copy.deepcopy(value)
            origins[path] = origin


def _renamed(path: str, old: Mapping, new: Mapping) -> bool:
    # A file switching optimiser/schedule (sgd -> lars, step -> cosine) starts that section afresh:
    # the old one's options (momentum, milestones) would be unknown to the new one.
    return path in _FREE and "name" in new and old.get("name") != new["name"]


def _forget(origins: dict[str, str], path: str) -> None:
    for key in [k for k in origins if k == path or k.startswith(path + ".")]:
        del origins[key]


def override_key(item: str) -> str:
    """The dotted key an override sets or deletes: ``"+a.b=1"`` -> ``"a.b"``."""
    return _split_override(item)[1]


def _split_override(item: str) -> tuple[str, str, str | None]:
    """``"+a.b=1"`` -> ``("+", "a.b", "1")``; ``"~a.b"`` -> ``("~", "a.b", None)``."""
    op = item[0] if item[:1] in ("+", "~") else ""
    body = item[len(op) :]
    key, sep, value = body.partition("=")
    key = key.strip()
    if not key or (op != "~" and not sep):
        raise ConfigError(f"override {item!r} is not KEY=VALUE (or +KEY=VALUE, ~KEY)")
    return op, key, value if sep else None


def _parse_value(key: str, text: str, item: str) -> Any:
    try:
        # OmegaConf's dotlist grammar reads 1e-3 as a float (plain YAML 1.1 would not).
        return OmegaConf.to_container(OmegaConf.from_dotlist([f"v={text}"]))["v"]
    except OmegaConfBaseException as err:
        raise ConfigError(f"override {item!r}: cannot parse value: {err}") from None


def _lookup(tree: dict, key: str) -> tuple[dict | None, str]:
    parts = key.split(".")
    node: Any = tree
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return None, parts[-1]
        node = node[part]
    return (node if isinstance(node, dict) else None), parts[-1]


def _apply_override(tree: dict, item: str, origins: dict[str, str]) -> None:
    op, key, text = _split_override(item)
    parent, leaf = _lookup(tree, key)
    exists = parent is not None and leaf in parent
    if op == "~":
        if not exists:
            raise ConfigError(f"override {item!r}: no key {key!r} to delete")
        del parent[leaf]
        _forget(origins, key)
        return
    value = _parse_value(key, text or "", item)
    if not exists and _is_strict(key):
        raise ConfigError(f"override {item!r}: unknown key {key!r}{_suggest(tree, key)}")
    if not exists and op != "+" and parent is None:
        # New keys are fine inside an existing free-form section (method kwargs, reader options);
        # a missing section is more likely a typo than a wish.
        raise ConfigError(f"override {item!r}: the config has no {key.rpartition('.')[0] or key!r} section"
                          f"{_suggest(tree, key.rpartition('.')[0]) if '.' in key else ''}; write +{key}=... to add it")
    section = key.rpartition(".")[0]
    if leaf == "name" and section in _FREE and exists and parent[leaf] != value:
        _keep_accepted(parent, section, value, origins)
    node = tree
    for part in key.split(".")[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[key.split(".")[-1]] = value
    _forget(origins, key)
    origins[key] = f"override {item!r}"


def _keep_accepted(section_tree: dict, section: str, name: Any, origins: dict[str, str]) -> None:
    """``train.optimizer.name=adam`` on the command line keeps the options adam takes (lr, weight_decay)."""
    from skelssl.engine.optim import accepted_options

    accepted = accepted_options(section.rpartition(".")[2], name)
    if accepted is None:
        return
    for option in [k for k in section_tree if k != "name" and k not in accepted]:
        del section_tree[option]
        _forget(origins, f"{section}.{option}")


def _is_strict(key: str) -> bool:
    parts = key.split(".")
    if parts[0] not in _STRICT:
        return False
    return not any(".".join(parts[: i + 1]) in _FREE for i in range(1, len(parts)))


def _suggest(tree: dict, key: str) -> str:
    parent_key, _, leaf = key.rpartition(".")
    parent, _ = _lookup(tree, key)
    names = list(parent) if parent else []
    close = difflib.get_close_matches(leaf, names, n=1)
    return f" (did you mean '{parent_key + '.' if parent_key else ''}{close[0]}'?)" if close else ""


def load_config(name_or_path: str | os.PathLike, overrides: Iterable[str] | None = None, *,
                origins: dict[str, str] | None = None) -> DictConfig:
    """Load a config by shipped name or path, apply ``base:`` inheritance and overrides, validate it.

    The engine defaults (:data:`TRAIN_DEFAULTS`, :data:`DATA_DEFAULTS`) lie
    underneath everything. Raises :class:`ConfigError` (a ``ValueError``) or
    ``FileNotFoundError`` with the responsible file or override in the message.
    ``origins``, when given, is filled with ``{dotted key: the file or override that set it}``
    (for later checks to name the culprit).
    """
    source, origin = resolve_config_source(name_or_path)
    origins = {} if origins is None else origins
    tree: dict = {}
    _merge_into(tree, {"train": TRAIN_DEFAULTS, "data": DATA_DEFAULTS}, "engine defaults", origins)
    for layer_origin, layer in _read_layers(source, origin, 0, ()):
        _check_strict_keys(layer, layer_origin)
        _merge_into(tree, layer, layer_origin, origins)
    for item in overrides or []:
        _apply_override(tree, item, origins)
    try:
        cfg = OmegaConf.create(tree)
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{origin}: {err}") from None
    validate_config(cfg, origins)
    return cfg


def _check_strict_keys(layer: Mapping, origin: str, prefix: str = "") -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if key == _REPLACE or not _is_strict(path):
            continue
        known = _known(path)
        if known is _UNKNOWN:
            parent = path.rpartition(".")[0]
            siblings = list(_known(parent) or {})
            close = difflib.get_close_matches(key, siblings, n=1)
            hint = f" (did you mean '{parent}.{close[0]}'?)" if close else ""
            raise ConfigError(f"{origin}: unknown key '{path}'{hint}; known: {', '.join(sorted(siblings))}")
        if isinstance(known, dict) and path not in _FREE:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin}: '{path}' must be a mapping, got {value!r}")
            _check_strict_keys(value, origin, path + ".")


_UNKNOWN = object()


def _known(path: str) -> Any:
    parts = path.split(".")
    node: Any = _STRICT
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return _UNKNOWN
        node = node[part]
    return node


def _fail(origins: Mapping[str, str], key: str, message: str) -> None:
    where = origins.get(key, "engine defaults")
    raise ConfigError(f"config key '{key}' (set in {where}): {message}")


def validate_config(cfg: DictConfig, origins: Mapping[str, str] | None = None) -> None:
    """Check types and ranges of the engine's settings; raises :class:`ConfigError`."""
    from skelssl.engine.optim import OPTIMIZERS, SCHEDULES

    origins = origins or {}
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError("config values left as '???' must be set: " + ", ".join(missing))
    t, d = cfg.train, cfg.data

    def positive_int(key: str, value: Any, allow_zero: bool = False, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value >= 1)
        if not ok:
            _fail(origins, key, f"must be an integer {'>= 0' if allow_zero else '>= 1'}, got {value!r}")

    positive_int("train.epochs", t.epochs)
    positive_int("train.max_steps", t.max_steps, allow_none=True)
    positive_int("train.log_every", t.log_every)
    positive_int("train.checkpoint.every_steps", t.checkpoint.every_steps, allow_zero=True)
    positive_int("train.checkpoint.every_epochs", t.checkpoint.every_epochs, allow_zero=True)
    minutes = t.checkpoint.every_minutes
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0:
        _fail(origins, "train.checkpoint.every_minutes", f"must be a number >= 0 (0 = off), got {minutes!r}")
    positive_int("train.checkpoint.keep_last", t.checkpoint.keep_last, allow_zero=True)
    positive_int("train.knn_monitor.every", t.knn_monitor.every, allow_zero=True)
    positive_int("train.knn_monitor.k", t.knn_monitor.k)
    positive_int("data.batch_size", d.batch_size)
    positive_int("data.num_workers", d.num_workers, allow_zero=True)
    if not isinstance(t.seed, int) or isinstance(t.seed, bool):
        _fail(origins, "train.seed", f"must be an integer, got {t.seed!r}")
    if t.amp not in ("auto", True, False):
        _fail(origins, "train.amp", f"must be auto, true or false, got {t.amp!r}")
    if t.grad_clip is not None and not (isinstance(t.grad_clip, (int, float)) and t.grad_clip > 0):
        _fail(origins, "train.grad_clip", f"must be null or a positive number, got {t.grad_clip!r}")
    if t.checkpoint.mode not in ("max", "min"):
        _fail(origins, "train.checkpoint.mode", f"must be max or min, got {t.checkpoint.mode!r}")
    if not t.knn_monitor.temperature or t.knn_monitor.temperature <= 0:
        _fail(origins, "train.knn_monitor.temperature", "must be > 0")
    for section, registry in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        if not isinstance(t[section], DictConfig):
            _fail(origins, f"train.{section}", f"must be a mapping with a 'name', got {t[section]!r}")
        name = t[section].get("name")
        if name not in registry:
            _fail(origins, f"train.{section}.name", f"unknown {section} {name!r}; known: {registry.names()}")
    lr = t.optimizer.get("lr")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
        _fail(origins, "train.optimizer.lr", f"must be a positive number, got {lr!r}")
    if "method" in cfg and not isinstance(cfg.method.get("name") if isinstance(cfg.method, DictConfig) else None, str):
        _fail(origins, "method.name", "the method section needs a 'name'")


def train_config(train_cfg: Mapping | DictConfig | None) -> DictConfig:
    """A ``train`` section with the engine defaults filled in underneath (for callers outside load_config)."""
    tree: dict = {}
    origins: dict[str, str] = {}
    _merge_into(tree, {"train": TRAIN_DEFAULTS}, "engine defaults", origins)
    given = OmegaConf.to_container(train_cfg, resolve=True) if isinstance(train_cfg, DictConfig) else (train_cfg or {})
    _check_strict_keys({"train": given}, "the train config")
    _merge_into(tree, {"train": given}, "the train config", origins)
    cfg = OmegaConf.create({"train": tree["train"], "data": DATA_DEFAULTS})
    validate_config(cfg, origins)
    return cfg.train


def config_to_dict(cfg: DictConfig | Mapping | None) -> dict:
    """A resolved plain ``dict`` (for JSON metadata)."""
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return copy.deepcopy(dict(cfg))


def save_config(cfg: DictConfig, run_dir: str | os.PathLike) -> Path:
    """Write the resolved config to ``<run_dir>/config.yaml`` (atomically) and return the path."""
    path = Path(run_dir) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))
    return path
