"""Every key of a run config checked against what reads it, before any work starts or file is written.

The engine's own sections (``train``, ``data``) are checked key by key when the
config is loaded (:func:`skelssl.engine.config.load_config`). The rest are
keyword arguments of something else, and a key nobody reads used to be ignored
(``protocol.feature_nrom=batchnorm``: a probe on raw features, 10 % instead of
56 %, exit code 0) or to end in a ``TypeError`` traceback deep inside model
construction (``method.encoder.widht=``). :func:`check_config` checks them all
from the config alone:

* the top-level sections the command reads;
* ``train.optimizer`` / ``train.schedule`` options of the named optimiser / schedule;
* ``method``: the method's keyword arguments and its ``encoder`` / ``decoder`` specs;
* ``model`` (supervised): ``encoder`` spec and ``view``;
* ``protocol``: the options the named protocol reads;
* ``semi``: the semi-supervised run's settings;
* ``data.reader_options`` (the synthetic dataset generated on the fly) and ``data.recipe``.

Each problem is one ``ValueError`` line naming the key, where it was set and
the closest valid key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = ["SECTIONS", "SEMI_KEYS", "MODEL_KEYS", "check_config"]

# The top-level sections each kind of run reads.
SECTIONS: dict[str, frozenset[str]] = {
    "pretrain": frozenset({"method", "train", "data"}),
    "semi": frozenset({"method", "train", "data", "semi"}),
    "supervised": frozenset({"model", "protocol", "train", "data"}),
    "eval": frozenset({"protocol", "train", "data"}),
}
# skelssl.api.semi_supervised reads these.
SEMI_KEYS = frozenset({"labels_per_class", "label_fraction", "split_file", "split_seed", "eval_seed",
                       "monitor_every", "pseudo_threshold"})
MODEL_KEYS = frozenset({"encoder", "view"})


def check_config(cfg: DictConfig, kind: str, where: Mapping[str, str] | None = None) -> None:
    """Raise ``ValueError`` for the first key of ``cfg`` that the ``kind`` of run would not read.

    ``kind`` is ``pretrain``, ``semi``, ``supervised`` or ``eval``; ``where``
    maps dotted keys to the file or override that set them (``load_config(..., origins=...)``).
    """
    where = where or {}
    tree = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(tree, dict)
    _check_keys("", tree, SECTIONS[kind], "section", where,
                hint_all=f"a {kind} config has the sections {', '.join(sorted(SECTIONS[kind]))}")
    for section in SECTIONS[kind]:
        if section in ("method", "model", "protocol") and section not in tree:
            raise ValueError(f"the config has no '{section}' section")
    _check_train(tree["train"], where)
    _check_data(tree["data"], where)
    if "method" in tree:
        from skelssl.methods.base import check_method_options

        check_method_options(tree["method"], where)
    if "model" in tree:
        _check_model(tree["model"], where)
    if "protocol" in tree:
        from skelssl.protocols.options import check_protocol_options

        check_protocol_options(tree["protocol"], where)
    if "semi" in tree:
        _check_keys("semi.", tree["semi"], SEMI_KEYS, "option", where)


def _check_keys(prefix: str, given: Mapping[str, Any], known: frozenset[str] | set[str], what: str,
                where: Mapping[str, str], hint_all: str | None = None) -> None:
    for key in given:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        origin = _origin(where, f"{prefix}{key}")
        listing = hint_all or f"known: {', '.join(sorted(known))}"
        raise ValueError(f"{prefix}{key}{origin}: unknown {what}{hint}; {listing}")


def _origin(where: Mapping[str, str], key: str) -> str:
    found = where.get(key) or next((v for k, v in where.items() if k.startswith(key + ".")), None)
    return f" (set in {found})" if found else ""


def _check_train(train: Mapping[str, Any], where: Mapping[str, str]) -> None:
    from skelssl.engine.optim import accepted_options

    for section in ("optimizer", "schedule"):
        options = train.get(section) or {}
        accepted = accepted_options(section, options.get("name"))
        if accepted is None:
            continue  # an unknown name is reported by load_config's validation
        _check_keys(f"train.{section}.", {k: v for k, v in options.items() if k != "name"}, accepted,
                    f"option of {section} {options.get('name')!r}", where)


def _check_data(data: Mapping[str, Any], where: Mapping[str, str]) -> None:
    from skelssl.data.readers import get_reader, list_readers
    from skelssl.data.recipes import list_recipes

    recipe = data.get("recipe")
    if recipe is not None and recipe not in list_recipes():
        close = difflib.get_close_matches(str(recipe), list_recipes(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"data.recipe{_origin(where, 'data.recipe')}: unknown recipe {recipe!r}{hint}; "
                         f"known: {', '.join(list_recipes())}")
    options = data.get("reader_options") or {}
    if options:
        dataset = data.get("dataset")
        if dataset not in list_readers():
            raise ValueError(f"data.reader_options: data.dataset {dataset!r} is not a known reader")
        for key in options:
            try:
                get_reader(str(dataset), **{key: options[key]})
            except ValueError as err:
                raise ValueError(f"data.reader_options.{key}{_origin(where, f'data.reader_options.{key}')}: "
                                 f"{err}") from None


def _check_model(model: Mapping[str, Any], where: Mapping[str, str]) -> None:
    from skelssl.data.views import VIEWS
    from skelssl.methods.base import check_encoder_spec

    _check_keys("model.", model, MODEL_KEYS, "option", where)
    encoder = model.get("encoder")
    if not isinstance(encoder, Mapping) or "name" not in encoder:
        raise ValueError(f"model.encoder must be a spec {{name: ..., options}}, got {encoder!r}")
    check_encoder_spec(encoder, "model.encoder", where)
    view = model.get("view", "joint")
    if view not in VIEWS:
        close = difflib.get_close_matches(str(view), list(VIEWS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"model.view{_origin(where, 'model.view')}: unknown view {view!r}{hint}; "
                         f"known: {', '.join(VIEWS)}")
