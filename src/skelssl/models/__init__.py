"""Model zoo: skeleton encoders, pretext decoders and heads, built by name.

>>> from skelssl.models import create_encoder
>>> enc = create_encoder("stgcn_quarter", layout="ntu25")   # (N, 3, T, 25, M) -> (N, 256)
"""

from skelssl.models.agcn import AGCN
from skelssl.models.asgcn import ASGCN
from skelssl.models.base import DataNorm, SkeletonEncoder
from skelssl.models.cnn import SkeletonResNet
from skelssl.models.decoders import GRUInpaintDecoder, STGCNUpsampleDecoder
from skelssl.models.heads import (
    Discriminator,
    LinearClassifier,
    MessageAggregation,
    ProjectionMLP,
    TwoLayerClassifier,
)
from skelssl.models.registry import (
    create_decoder,
    create_encoder,
    create_head,
    list_decoders,
    list_encoders,
    list_heads,
    register_decoder,
    register_encoder,
    register_head,
)
from skelssl.models.rnn import RNNEncoder
from skelssl.models.runtime import configure_cpu_runtime
from skelssl.models.stgcn import STGCN

__all__ = [
    "AGCN",
    "ASGCN",
    "STGCN",
    "RNNEncoder",
    "SkeletonResNet",
    "SkeletonEncoder",
    "DataNorm",
    "GRUInpaintDecoder",
    "STGCNUpsampleDecoder",
    "ProjectionMLP",
    "LinearClassifier",
    "TwoLayerClassifier",
    "Discriminator",
    "MessageAggregation",
    "create_encoder",
    "list_encoders",
    "register_encoder",
    "create_decoder",
    "list_decoders",
    "register_decoder",
    "create_head",
    "list_heads",
    "register_head",
    "configure_cpu_runtime",
]
