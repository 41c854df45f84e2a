"""The layer cases: geometries, their parameter dicts and the rule that makes them valid.

One model for every staff-side check of the layers: the hidden tests' case tables
(CONV_CASES, POOL_CASES, the edge cases named in the assignment) and the reference's
verification against PyTorch (tests/test_reference_vs_torch.py) describe their cases
with these classes and draw their arrays with random_arrays. It lives with the hidden
tests because the notebook exports pack that folder's files with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder.core.gradcheck import spread_values as spread_array


def random_arrays(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Standard-normal float64 arrays of the given shapes from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def output_size(size: int, window: int, stride: int, pad: int = 0) -> int:
    """Window positions along one axis: 1 + (size + 2 * pad - window) / stride.

    The rule that makes a geometry valid: the windows must tile the padded axis
    exactly, so a case that breaks it is a mistake in the case table (ValueError).
    """
    span = size + 2 * pad - window
    if span < 0 or span % stride:
        raise ValueError(f"windows of {window} with stride {stride} do not tile {size} padded by {pad}")
    return 1 + span // stride


def fitting_size(positions: int, window: int, stride: int, pad: int = 0) -> int:
    """The axis size (before padding) on which `positions` windows fit exactly: output_size's inverse."""
    return (positions - 1) * stride + window - 2 * pad


@dataclass(frozen=True)
class ConvCase:
    """One convolution geometry: x (N, C, H, W), num_filters filters of filter_size, stride, pad.

    The hidden tests and tests/test_reference_vs_torch.py both describe their cases with it.
    """

    x_shape: tuple[int, int, int, int]
    num_filters: int
    filter_size: tuple[int, int]
    stride: int
    pad: int

    def __post_init__(self) -> None:
        self.out_shape  # noqa: B018 - a case whose windows do not fit fails where it is written

    @property
    def id(self) -> str:
        """A readable test id: x and w shapes, stride and pad."""
        x_part, w_part = "x".join(map(str, self.x_shape)), "x".join(map(str, self.w_shape))
        return f"x{x_part}-w{w_part}-s{self.stride}p{self.pad}"

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.num_filters, self.x_shape[1], *self.filter_size)

    @property
    def conv_param(self) -> dict:
        return {"stride": self.stride, "pad": self.pad}

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        """(N, F, H_out, W_out) of this case's convolution."""
        height, width = (
            output_size(size, kernel, self.stride, self.pad) for size, kernel in zip(self.x_shape[2:], self.filter_size)
        )
        return (self.x_shape[0], self.num_filters, height, width)

    def arrays(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """x, w, b (standard normal, from one seeded generator) and conv_param."""
        x, w, b = random_arrays(seed, self.x_shape, self.w_shape, (self.num_filters,))
        return x, w, b, self.conv_param


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
    """One pooling geometry: x (N, C, H, W), a pool_height x pool_width window, stride; no padding."""

    x_shape: tuple[int, int, int, int]
    pool_height: int
    pool_width: int
    stride: int

    def __post_init__(self) -> None:
        self.out_shape  # noqa: B018 - a case whose windows do not fit fails where it is written

    @property
    def id(self) -> str:
        """A readable test id: x shape, window and stride."""
        return f"x{'x'.join(map(str, self.x_shape))}-{self.pool_height}x{self.pool_width}s{self.stride}"

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        """(N, C, H_out, W_out) of this case's pooling."""
        height = output_size(self.x_shape[2], self.pool_height, self.stride)
        width = output_size(self.x_shape[3], self.pool_width, self.stride)
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
    return spread_array(np.random.default_rng(seed), shape)
