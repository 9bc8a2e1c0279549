"""The random-initialisation floor: the run's encoder with untrained, frozen weights.

Linear evaluation or KNN on these features is the floor a pretraining method
has to beat (a random ST-GCN is far from chance: its graph convolutions
already pool meaningful joint neighbourhoods). The encoder is built exactly
as the pretraining run builds it, from the same ``method`` config, seeded, and
used as constructed (BatchNorm with its initial running statistics).
"""

from __future__ import annotations

from omegaconf import DictConfig

from skelssl.data.canonical import PreparedDataset
from skelssl.methods.base import DatasetInfo, build_method
from skelssl.protocols.encoders import EncoderSource

__all__ = ["random_init_encoders"]


def random_init_encoders(method_cfg: DictConfig | dict, prepared: PreparedDataset | DatasetInfo,
                         seed: int = 0) -> EncoderSource:
    """``eval_encoders()`` of a freshly built (seeded, untrained) method for ``prepared`` (or a ``DatasetInfo``)."""
    from skelssl.engine.seed import seed_everything

    seed_everything(int(seed))
    info = prepared if isinstance(prepared, DatasetInfo) else DatasetInfo.from_prepared(prepared)
    method = build_method(method_cfg, info)
    method.eval()
    name = method_cfg["name"]
    return EncoderSource(method=method, method_name=str(name), encoders=dict(method.eval_encoders()),
                         checkpoint=None, random_init=True, meta={"seed": int(seed)})
