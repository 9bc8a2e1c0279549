"""Memories shared by methods: queues of negatives, per-sample feature banks."""

from skelssl.memory.feature_bank import FeatureBank
from skelssl.memory.queue import MemoryQueue

__all__ = ["MemoryQueue", "FeatureBank"]
