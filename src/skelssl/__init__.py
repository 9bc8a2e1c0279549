"""skelssl: self- and semi-supervised learning of skeleton action representations.

The library API (``skelssl.pretrain``, ``skelssl.evaluate``, ``skelssl.semi``, ``skelssl.supervised``)
is :mod:`skelssl.api`, imported on first use.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["pretrain", "evaluate", "semi", "supervised", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("pretrain", "evaluate", "semi", "supervised"):
        from skelssl import api

        return getattr(api, name)
    raise AttributeError(f"module 'skelssl' has no attribute {name!r}")
