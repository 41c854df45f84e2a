"""Input configurations of the hidden tests: the edge cases named in the assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def random_arrays(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Standard-normal float64 arrays of the given shapes from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


@dataclass(frozen=True)
class ConvCase:
    x_shape: tuple[int, int, int, int]
    num_filters: int
    filter_size: tuple[int, int]
    stride: int
    pad: int

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        """(N, F, H_out, W_out) of this case's convolution."""
        height, width = (
            1 + (size + 2 * self.pad - kernel) // self.stride
            for size, kernel in zip(self.x_shape[2:], self.filter_size)
        )
        return (self.x_shape[0], self.num_filters, height, width)

    def arrays(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        channels = self.x_shape[1]
        x, w, b = random_arrays(
            seed, self.x_shape, (self.num_filters, channels, *self.filter_size), (self.num_filters,)
        )
        return x, w, b, {"stride": self.stride, "pad": self.pad}


CONV_CASES = {
    "basic": ConvCase((3, 3, 7, 7), 4, (3, 3), 1, 1),
    "batch-1-one-channel": ConvCase((1, 1, 6, 6), 2, (3, 3), 1, 0),
    "1x1-kernel": ConvCase((2, 5, 4, 6), 3, (1, 1), 1, 0),
    "kernel-as-large-as-padded-input": ConvCase((2, 2, 5, 4), 3, (7, 6), 1, 1),
    "non-square-input-and-kernel": ConvCase((2, 3, 9, 5), 2, (3, 1), 2, 1),
    "stride-3-pad-3": ConvCase((2, 2, 8, 11), 3, (2, 5), 3, 3),
    "stride-2-pad-2-even-kernel": ConvCase((3, 2, 6, 6), 2, (4, 2), 2, 2),
}


@dataclass(frozen=True)
class PoolCase:
    x_shape: tuple[int, int, int, int]
    pool_height: int
    pool_width: int
    stride: int

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        """(N, C, H_out, W_out) of this case's pooling."""
        height = 1 + (self.x_shape[2] - self.pool_height) // self.stride
        width = 1 + (self.x_shape[3] - self.pool_width) // self.stride
        return (*self.x_shape[:2], height, width)

    @property
    def pool_param(self) -> dict:
        return {"pool_height": self.pool_height, "pool_width": self.pool_width, "stride": self.stride}


POOL_CASES = {
    "2x2-stride-2": PoolCase((3, 2, 8, 8), 2, 2, 2),
    "batch-1-one-channel": PoolCase((1, 1, 6, 4), 2, 2, 2),
    "overlapping-3x3-stride-1": PoolCase((2, 3, 6, 7), 3, 3, 1),
    "overlapping-3x3-stride-2": PoolCase((2, 2, 7, 9), 3, 3, 2),
    "non-square-window": PoolCase((2, 2, 7, 6), 3, 2, 2),
    "window-is-whole-image": PoolCase((2, 3, 5, 4), 5, 4, 1),
    "stride-3": PoolCase((2, 2, 8, 11), 2, 2, 3),
}


def tied_values(seed: int, shape: tuple[int, ...], levels: int = 3) -> np.ndarray:
    """Integer-valued floats from a few levels, so most pooling windows hold tied maxima."""
    return np.random.default_rng(seed).integers(0, levels, size=shape).astype(np.float64)


def spread_values(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Entries pairwise at least 0.01 apart, so numeric steps never change a window's maximum."""
    count = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(np.arange(count) * 0.01 - count * 0.005).reshape(shape)
