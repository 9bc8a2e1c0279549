"""Memories shared by contrastive methods (queues of negatives)."""

from skelssl.memory.queue import MemoryQueue

__all__ = ["MemoryQueue"]
