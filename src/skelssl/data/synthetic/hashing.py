"""Counter-based hash random numbers: any sample can be generated alone, bit-identically."""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- random numbers
#
# Counter-based: a uniform is a splitmix64 hash of (seed, stream, indices...),
# so any sample can be generated alone, in any batch, bit-identically.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MUL1
    z = (z ^ (z >> np.uint64(27))) * _MUL2
    return z ^ (z >> np.uint64(31))


class _Hash:
    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def bits(self, stream: int, *idx) -> np.ndarray:
        with np.errstate(over="ignore"):
            z = _mix(np.array([(self.seed * 0x100000001B3 + stream) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
            for i in idx:
                z = _mix(z ^ np.asarray(i, dtype=np.uint64))
        return z

    def uniform(self, stream: int, *idx) -> np.ndarray:
        """Uniform in [0, 1), shaped as the broadcast of the index arrays."""
        return (self.bits(stream, *idx) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def normal(self, stream: int, *idx) -> np.ndarray:
        # Box-Muller from the two 32-bit halves of one hash; 32 bits is plenty for noise.
        # float32 halves the cost of the per-joint sensor noise, the biggest array drawn.
        z = self.bits(stream, *idx)
        u1 = ((z >> np.uint64(40)).astype(np.float32) + np.float32(1.0)) * np.float32(2.0**-24)
        u2 = (z & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 * np.pi * 2.0**-24)
        return np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(u2)


# Stream ids: one per kind of random quantity, so adding a draw never shifts another.
_S_SUBJECT, _S_SAMPLE, _S_BODY, _S_IDLE, _S_NOISE, _S_GLITCH, _S_GLITCH_SIZE, _S_DROP = range(1, 9)
# Untrimmed videos (action segmentation): per-video and per-segment draws.
_S_VIDEO, _S_SEGMENT = 9, 10
