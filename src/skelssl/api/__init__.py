"""The library API: what ``skelssl pretrain / evaluate / semi / run`` do, as functions.

>>> import skelssl
>>> run = skelssl.pretrain("skeletonclr_nucla", data="prepared/nucla", overrides=["train.epochs=20"])  # doctest: +SKIP
>>> skelssl.evaluate(run, "linear")["joint"]["top1"]                                                 # doctest: +SKIP
>>> skelssl.evaluate(run, "linear", random_init=True)   # the random-frozen-encoder floor           # doctest: +SKIP
>>> skelssl.semi("assl", data="prepared/nucla", labels_per_class=15, seed=0)["top1"]                 # doctest: +SKIP

* :func:`~skelssl.api.pretraining.pretrain` ``(config, data=..., overrides=...) -> run directory``
* :func:`~skelssl.api.evaluation.evaluate` ``(run, protocol, ...) -> {view: results}``
* :func:`~skelssl.api.semi_supervised.semi` ``(method, data=..., labels_per_class=...) -> results``
* :func:`~skelssl.api.supervised.supervised` ``(config, data=...) -> results`` (from scratch, every label)

Each is imported on first use, so ``import skelssl`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["pretrain", "evaluate", "semi", "supervised"]

_WHERE = {"pretrain": "skelssl.api.pretraining", "evaluate": "skelssl.api.evaluation",
          "semi": "skelssl.api.semi_supervised", "supervised": "skelssl.api.supervised"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'skelssl.api' has no attribute {name!r}")
