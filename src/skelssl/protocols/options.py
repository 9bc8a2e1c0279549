"""The options each evaluation protocol reads from its config's ``protocol`` section.

``protocol.feature_nrom=batchnorm`` used to be accepted and ignored (the probe
ran on raw features and gave 10 % instead of 56 %, with exit code 0). Every key
a protocol reads is listed here, so :func:`check_protocol_options` turns any
other key into an error with a did-you-mean before any work starts.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

__all__ = ["PROTOCOL_OPTIONS", "check_protocol_options"]

# What the classifier-training protocols share (skelssl.protocols.classifier / linear / finetune).
_CLASSIFIER = {"name", "augment", "dropout", "feature_norm", "eval_batch_size"}
_SUBSET = {"mode", "fraction", "per_class", "split_file", "split_seed"}

PROTOCOL_OPTIONS: dict[str, frozenset[str]] = {
    "linear": frozenset(_CLASSIFIER | {"cache_features"}),
    "finetune": frozenset(_CLASSIFIER),
    "supervised": frozenset(_CLASSIFIER),
    # semi trains a linear probe or fine-tunes (protocol.mode) on a labelled subset.
    "semi": frozenset(_CLASSIFIER | {"cache_features"} | _SUBSET),
    "knn": frozenset({"name", "k", "temperature", "eval_batch_size"}),
    "tsne": frozenset({"name", "perplexity", "max_samples", "seed", "eval_batch_size"}),
    "segmentation": frozenset({"name", "window", "stride", "feature_batch_size", "train_frame_stride",
                               "feature_norm", "timeline_videos"}),
    "actionlet": frozenset({"name", "part", "sample", "frames", "fps"}),
}


def check_protocol_options(section: Mapping[str, Any], where: Mapping[str, str] | None = None) -> None:
    """Raise ``ValueError`` for a ``protocol`` key its protocol does not read (naming the closest one).

    ``where`` maps dotted keys to the file or override that set them, for the message.
    """
    name = section.get("name")
    if name not in PROTOCOL_OPTIONS:
        close = difflib.get_close_matches(str(name), list(PROTOCOL_OPTIONS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"protocol.name: unknown protocol {name!r}{hint}; known: {', '.join(PROTOCOL_OPTIONS)}")
    known = PROTOCOL_OPTIONS[name]
    for key in section:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        hint = f" (did you mean 'protocol.{close[0]}'?)" if close else ""
        origin = (where or {}).get(f"protocol.{key}")
        source = f" (set in {origin})" if origin else ""
        raise ValueError(f"protocol.{key}{source}: the {name} protocol has no option {key!r}{hint}; "
                         f"its options: {', '.join(sorted(known - {'name'}))}")
