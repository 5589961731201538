"""Timing helper shared by the benchmark scripts."""

import time


def best_of(fn, repeats: int = 3) -> float:
    """Smallest wall time in seconds of `repeats` calls of fn() (the least disturbed run)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
