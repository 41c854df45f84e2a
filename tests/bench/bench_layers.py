"""Speed of the reference layers: im2col convolution against PyTorch, naive against fast.

Targets (what main() returns True for): for each of three convolution shapes, the
reference conv_forward_im2col + conv_backward_im2col takes at most as long as
PyTorch's float64 F.conv2d forward + backward (gradients for input, weight and
bias) on the CPU. Printed for information: the same comparison at the machine's
default thread counts and with a heap that keeps freed memory, the speedup of the
vectorized layers over the naive ones, and fast max pooling against F.max_pool2d.

Thread settings. numpy runs its elementwise work (the im2col copy, the col2im
adds, transposes) on one thread whatever the settings; only its BLAS calls use
more. PyTorch parallelizes everything over the batch. At n threads the ratio
therefore measures the core count as much as the implementation, and it changes
from machine to machine. The targets are measured with both libraries pinned to
one thread (PyTorch via torch.set_num_threads, numpy's OpenBLAS via its own
set_num_threads entry point), which compares the implementations on equal terms.

Clock and statistics. With one thread, the CPU time of the process is the time
the computation took minus the time other processes had the core, so a busy
machine disturbs it far less than wall time; multi-threaded runs use wall time.
Every measurement warms up, then alternates the contenders call by call, so that
load from elsewhere hits both alike. The verdict uses the median over rounds of
the per-round ratio (reference time / PyTorch time of the same round); best-of
times and medians are printed beside it.

Page faults. On Linux, glibc serves large allocations with fresh memory maps and
returns freed memory to the system, so an array written for the first time costs
a page fault per 4 KiB page (about 2 us on a virtual machine), unless numpy asked
for huge pages, which it does for arrays of 4 MiB and more. PyTorch does not, and
its float64 convolution allocates an unfold buffer for the whole batch on every
call: on the largest case, page faults are about half of its time. The default
heap is what every program gets, so the targets use it; a second table, run in a
subprocess with glibc told to keep freed memory (GLIBC_TUNABLES), shows the ratios
without page faults on either side.

Run on its own with `.venv/bin/python tests/bench/bench_layers.py`, or through
`make bench`.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from cnn_reference.layers.conv import conv_backward_naive, conv_forward_naive
from cnn_reference.layers.im2col import conv_backward_im2col, conv_forward_im2col
from cnn_reference.layers.pooling import (
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
)
from timing import paired_ratio

from autograder.core.gradcheck import relative_error

# (x shape, w shape, stride, pad): the shapes the course's networks use.
CONV_CASES = [
    ((64, 16, 32, 32), (32, 16, 3, 3), 1, 1),
    ((128, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
]
# (x shape, pool height, pool width, stride): disjoint 2x2 windows and overlapping 3x3 ones.
POOL_CASES = [
    ((64, 16, 32, 32), 2, 2, 2),
    ((64, 16, 33, 33), 3, 3, 2),
]
TARGET_RATIO = 1.0
# Each contender runs until it has used about this much time, within the bounds below.
SECONDS_PER_CONTENDER = 0.8
MIN_REPEATS, MAX_REPEATS = 7, 40
# Outputs must agree before their speed means anything; float64 rounding differs by ~1e-15.
AGREEMENT_TOLERANCE = 1e-10
# glibc keeps freed memory and never maps large blocks on their own: no page faults once warm.
STEADY_HEAP = "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"
STEADY_HEAP_FLAG = "--steady-heap-table"


# ---------------------------------------------------------------------------- threads


def _openblas_functions() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) for the thread count of the OpenBLAS numpy is linked to, or None.

    numpy's wheels bundle OpenBLAS under a prefixed name (scipy_openblas...); the
    library is already loaded, so opening it again returns the same instance.
    """
    candidates = []
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        candidates = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    if not candidates:
        candidates = sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")))
    for path in candidates:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64_", ""):
                getter = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
                setter = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
                if getter is not None and setter is not None:
                    getter.restype = ctypes.c_int
                    setter.argtypes = [ctypes.c_int]
                    return getter, setter
    return None


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[str]:
    """Run the block with numpy's BLAS and PyTorch both at `count` threads (None: defaults).

    Yields a description of the settings in force; restores the previous settings
    afterwards, so benches that run later see the machine as they expect it.
    """
    blas = _openblas_functions()
    torch_before = torch.get_num_threads()
    blas_before = blas[0]() if blas else None
    try:
        if count is not None:
            torch.set_num_threads(count)
            if blas:
                blas[1](count)
        blas_now = f"{blas[0]()} thread(s)" if blas else "not controllable (default)"
        yield f"torch {torch.get_num_threads()} thread(s), numpy BLAS {blas_now}"
    finally:
        torch.set_num_threads(torch_before)
        if blas and blas_before is not None:
            blas[1](blas_before)


# ---------------------------------------------------------------------------- timing


def time_side_by_side(*contenders: Callable[[], object], clock: Callable[[], float]) -> list[list[float]]:
    """Seconds per call of each contender, alternating them call by call after a warm-up.

    Returns one list per contender; entry i of every list comes from round i.
    """
    for run in contenders:
        run()  # the first call pays for allocations and lazy initialisation
    started = clock()
    for run in contenders:
        run()
    # The slowest contender decides the number of rounds, so all get the same count.
    estimate = clock() - started
    rounds = int(min(MAX_REPEATS, max(MIN_REPEATS, SECONDS_PER_CONTENDER * len(contenders) / max(estimate, 1e-9))))
    seconds: list[list[float]] = [[] for _ in contenders]
    for _ in range(rounds):
        for run, times in zip(contenders, seconds):
            begin = clock()
            run()
            times.append(clock() - begin)
    return seconds


def _ms(seconds: float, width: int = 9) -> str:
    return f"{seconds * 1e3:{width}.2f}"


# ---------------------------------------------------------------------------- contenders


def conv_contenders(x_shape, w_shape, stride, pad, rng) -> dict[str, Callable[[], object]]:
    """Forward + backward closures for the im2col reference, the naive reference and PyTorch.

    Checks first that the three agree, so that no timing is of a wrong answer.
    """
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, _ = conv_forward_im2col(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)

    x_t, w_t, b_t = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def reference_im2col():
        out, cache = conv_forward_im2col(x, w, b, conv_param)
        return (out, *conv_backward_im2col(dout, cache))

    def reference_naive():
        out, cache = conv_forward_naive(x, w, b, conv_param)
        return (out, *conv_backward_naive(dout, cache))

    def pytorch():
        out = F.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
        return (out, *torch.autograd.grad(out, (x_t, w_t, b_t), dout_t))

    expected = [t.detach().numpy() for t in pytorch()]
    for name, results in (("im2col", reference_im2col()), ("naive", reference_naive())):
        for what, got, want in zip(("out", "dx", "dw", "db"), results, expected):
            error = relative_error(got, want)
            if error > AGREEMENT_TOLERANCE:
                raise AssertionError(f"{name} conv {what} disagrees with PyTorch: relative error {error:.1e}")
    return {"im2col": reference_im2col, "naive": reference_naive, "pytorch": pytorch}


def pool_contenders(x_shape, pool_height, pool_width, stride, rng) -> dict[str, Callable[[], object]]:
    """Forward + backward closures for fast and naive max pooling and PyTorch, checked to agree."""
    # A permutation has no ties, so every implementation routes gradients alike.
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) / 7.0
    pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
    out, _ = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape)
    x_t, dout_t = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(dout)

    def reference_fast():
        out, cache = max_pool_forward_fast(x, pool_param)
        return out, max_pool_backward_fast(dout, cache)

    def reference_naive():
        out, cache = max_pool_forward_naive(x, pool_param)
        return out, max_pool_backward_naive(dout, cache)

    def pytorch():
        out = F.max_pool2d(x_t, (pool_height, pool_width), stride=stride)
        return out, torch.autograd.grad(out, x_t, dout_t)[0]

    expected = [t.detach().numpy() for t in pytorch()]
    for name, results in (("fast", reference_fast()), ("naive", reference_naive())):
        for what, got, want in zip(("out", "dx"), results, expected):
            error = relative_error(got, want)
            if error > AGREEMENT_TOLERANCE:
                raise AssertionError(f"{name} max pool {what} disagrees with PyTorch: relative error {error:.1e}")
    return {"fast": reference_fast, "naive": reference_naive, "pytorch": pytorch}


# ---------------------------------------------------------------------------- tables


def _conv_label(x_shape, w_shape, stride, pad) -> str:
    return f"{x_shape}*{w_shape} s{stride} p{pad}"


def bench_conv_against_pytorch(thread_count: int | None, role: str) -> bool:
    """Print im2col conv against PyTorch; True if every paired ratio is within TARGET_RATIO.

    role is printed in the heading ('TARGET' or what the information is about). One
    thread is timed by CPU time, several threads by wall time.
    """
    rng = np.random.default_rng(0)
    clock, clock_name = (time.process_time, "CPU time") if thread_count == 1 else (time.perf_counter, "wall time")
    all_met = True
    with threads(thread_count) as settings:
        print(f"\nconv forward+backward, float64, im2col reference vs PyTorch F.conv2d ({role})")
        print(f"  {settings}; {clock_name}, ms per call; ratio = median of per-round ratios")
        print(
            f"  {'case':<44} {'ref best':>9} {'ref med':>9} {'torch best':>10} {'torch med':>9} "
            f"{'ratio':>6} {'of bests':>8}  result"
        )
        for case in CONV_CASES:
            contenders = conv_contenders(*case, rng)
            ours, theirs = time_side_by_side(contenders["im2col"], contenders["pytorch"], clock=clock)
            ratio = paired_ratio(ours, theirs)
            met = ratio <= TARGET_RATIO
            all_met &= met
            verdict = f"{'met' if met else 'MISSED'} (<= {TARGET_RATIO:.1f}x)" if role == "TARGET" else "-"
            print(
                f"  {_conv_label(*case):<44} {_ms(min(ours))} {_ms(statistics.median(ours))} "
                f"{_ms(min(theirs), 10)} {_ms(statistics.median(theirs))} {ratio:5.2f}x "
                f"{min(ours) / min(theirs):7.2f}x  {verdict}"
            )
    return all_met


def bench_conv_with_steady_heap() -> None:
    """Print the one-thread conv table from a subprocess whose heap keeps freed memory."""
    environment = dict(os.environ, GLIBC_TUNABLES=STEADY_HEAP)
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), STEADY_HEAP_FLAG],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if completed.returncode != 0:
        print(f"\n(the steady-heap table failed: exit status {completed.returncode})\n{completed.stderr[-2000:]}")
    else:
        print(completed.stdout, end="")


def bench_naive_against_fast() -> None:
    """Print the speedup of the vectorized layers over the naive loops (one thread each)."""
    rng = np.random.default_rng(1)
    with threads(1) as settings:
        print(f"\nnaive vs vectorized reference, forward+backward (information); {settings}; CPU time, ms")
        print(f"  {'case':<62} {'naive best':>10} {'fast best':>10} {'speedup':>8}")
        for case in CONV_CASES:
            contenders = conv_contenders(*case, rng)
            naive, fast = time_side_by_side(contenders["naive"], contenders["im2col"], clock=time.process_time)
            label = "conv naive vs im2col " + _conv_label(*case)
            print(f"  {label:<62} {_ms(min(naive), 10)} {_ms(min(fast), 10)} {min(naive) / min(fast):7.1f}x")
        for x_shape, pool_height, pool_width, stride in POOL_CASES:
            contenders = pool_contenders(x_shape, pool_height, pool_width, stride, rng)
            naive, fast = time_side_by_side(contenders["naive"], contenders["fast"], clock=time.process_time)
            label = f"max pool naive vs fast {x_shape} {pool_height}x{pool_width} s{stride}"
            print(f"  {label:<62} {_ms(min(naive), 10)} {_ms(min(fast), 10)} {min(naive) / min(fast):7.1f}x")


def bench_pool_against_pytorch(thread_count: int | None) -> None:
    """Print fast max pooling against PyTorch's F.max_pool2d (information)."""
    rng = np.random.default_rng(2)
    clock, clock_name = (time.process_time, "CPU time") if thread_count == 1 else (time.perf_counter, "wall time")
    with threads(thread_count) as settings:
        print("\nmax pooling forward+backward, float64, fast reference vs F.max_pool2d (information)")
        print(f"  {settings}; {clock_name}, ms per call; ratio = median of per-round ratios")
        print(f"  {'case':<44} {'ref best':>9} {'ref med':>9} {'torch best':>10} {'torch med':>9} {'ratio':>6}")
        for x_shape, pool_height, pool_width, stride in POOL_CASES:
            contenders = pool_contenders(x_shape, pool_height, pool_width, stride, rng)
            ours, theirs = time_side_by_side(contenders["fast"], contenders["pytorch"], clock=clock)
            label = f"{x_shape} {pool_height}x{pool_width} s{stride}"
            print(
                f"  {label:<44} {_ms(min(ours))} {_ms(statistics.median(ours))} {_ms(min(theirs), 10)} "
                f"{_ms(statistics.median(theirs))} {paired_ratio(ours, theirs):5.2f}x"
            )


def main() -> bool:
    """Run the layer benchmarks; True when every convolution ratio meets its target."""
    print(f"torch {torch.__version__}, numpy {np.__version__}, {os.cpu_count()} CPU(s)")
    met = bench_conv_against_pytorch(1, "TARGET")
    bench_conv_with_steady_heap()
    bench_conv_against_pytorch(None, "information: default thread counts")
    bench_naive_against_fast()
    bench_pool_against_pytorch(1)
    bench_pool_against_pytorch(None)
    print(f"\nconvolution targets: {'all met' if met else 'MISSED'}")
    return met


if __name__ == "__main__":
    if sys.argv[1:] == [STEADY_HEAP_FLAG]:
        bench_conv_against_pytorch(1, "information: heap keeping freed memory, no page faults")
        raise SystemExit(0)
    raise SystemExit(0 if main() else 1)
