"""Timing helpers shared by the benchmark scripts: interleaved rounds, paired ratios, torch
limited to one thread."""

from __future__ import annotations

import statistics
import time

import torch

__all__ = ["interleaved", "one_thread", "ratio"]


def interleaved(fns: dict, rounds: int, reps: int, warmup: int = 2) -> dict:
    """ms per call for each callable: median over rounds (order rotated each round), and
    each one's per-round times (for paired ratios)."""
    names = list(fns)
    for f in fns.values():
        for _ in range(warmup):
            f()
    per = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            for _ in range(reps):
                fns[k]()
            per[k].append((time.perf_counter() - t0) / reps * 1e3)
    return per


def one_thread(fn):
    """``fn`` run with torch limited to one thread (robust when the cores are shared: torch's
    OpenMP threads spin at barriers and collapse when another process takes a core)."""
    def run():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(threads)
    return run


def ratio(per: dict, a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(per[a], per[b]))
