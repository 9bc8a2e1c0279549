"""Batched, vectorised skeleton augmentations for ``(N, C, T, V, M)`` batches.

Each transform draws per-sample parameters from a ``torch.Generator``
(:meth:`~skelssl.augment.base.RandomOp.sample_params`) and applies them to the
whole batch on its device (:meth:`~skelssl.augment.base.RandomOp.apply`). See
:mod:`skelssl.augment.base` for the randomness and ``lengths`` conventions.

>>> from skelssl.augment import build_pipeline
>>> aug = build_pipeline("skeletonclr", layout="ntu25")
>>> view = aug(batch, generator)  # doctest: +SKIP
"""

from skelssl.augment.base import (
    Params,
    RandomOp,
    Transform,
    get_transform,
    list_transforms,
    register_transform,
)
from skelssl.augment.camera import ObservationCamera, VirtualCamera
from skelssl.augment.masking import InpaintingMask, MaskResult
from skelssl.augment.mixing import MixResult, RandomSkeletonMix, SkeletonAdaIN, SkeletonMix, body_parts
from skelssl.augment.pipeline import (
    Compose,
    PipelineOutput,
    build_pipeline,
    build_transform,
    list_pipelines,
    load_pipeline_spec,
)
from skelssl.augment.spatial import (
    AxisMask,
    GaussianNoise,
    MinMaxNormalize,
    RandomRotation,
    RandomScale,
    Shear,
    SpatialFlip,
)
from skelssl.augment.temporal import (
    GaussianBlur,
    MotionShuffle,
    RandomFrameSampling,
    SpeedClip,
    SpeedResample,
    TemporalCrop,
    TemporalFlip,
    TemporalResize,
)

__all__ = [
    "Params",
    "RandomOp",
    "Transform",
    "register_transform",
    "get_transform",
    "list_transforms",
    "Compose",
    "PipelineOutput",
    "build_pipeline",
    "build_transform",
    "list_pipelines",
    "load_pipeline_spec",
    "Shear",
    "RandomRotation",
    "RandomScale",
    "MinMaxNormalize",
    "SpatialFlip",
    "AxisMask",
    "GaussianNoise",
    "TemporalCrop",
    "TemporalFlip",
    "GaussianBlur",
    "SpeedResample",
    "SpeedClip",
    "MotionShuffle",
    "RandomFrameSampling",
    "TemporalResize",
    "VirtualCamera",
    "ObservationCamera",
    "SkeletonAdaIN",
    "SkeletonMix",
    "RandomSkeletonMix",
    "MixResult",
    "body_parts",
    "InpaintingMask",
    "MaskResult",
]
