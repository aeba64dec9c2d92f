"""Step detection over a nightly series: PELT segmentation, confirmed by a permutation test.

1. The series is made relative (divided by its median) and its run-to-run noise ``sigma`` is estimated
   robustly from first differences (MAD / (0.6745·√2)), which a single step barely moves. A per-run
   standard error of the median, when raw values are known, is used as a floor: the noise between
   runs is never smaller than the noise within one.
2. Candidate change points come from PELT (Killick, Fearnhead & Eckley 2012, JASA 107:1590) with an
   L2 cost, via the maintained ``ruptures`` library (Truong, Oudre & Vayatis 2020), penalty
   ``beta · sigma² · ln n`` (beta = 2 is BIC for a mean-shift model).
3. Each candidate must show *statistical evidence*: a permutation test of the largest standardised
   mean difference over every admissible split of its window (the stretch between its neighbouring
   candidates), as in E-divisive (Matteson & James 2014, JASA 109:334). Taking the maximum over splits
   accounts for having searched for the step, so a flat series raises a false alarm with probability
   about ``alpha`` per window. Candidates that fail are removed one at a time (weakest first) and the
   rest re-tested on the widened windows.
4. And a *minimum effect*: ``|median(after)/median(before) - 1| >= min_effect``.

Pure numpy/ruptures; deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import ruptures as rpt

_MAD_TO_SD = 1.0 / 0.6745


@dataclass(frozen=True)
class StepConfig:
    min_effect: float = 0.025  # relative size a step must have to be reported (2.5 %)
    alpha: float = 0.01  # permutation-test level per window
    min_size: int = 3  # runs needed on each side of a step
    penalty_beta: float = 2.0  # PELT penalty = beta * sigma^2 * ln(n)
    permutations: int = 999
    seed: int = 0


DEFAULT_CONFIG = StepConfig()


@dataclass(frozen=True)
class Step:
    index: int  # position of the first value at the new level
    before: float  # median of the segment before (input units)
    after: float  # median of the segment after
    rel_change: float  # after / before - 1
    p_value: float  # permutation p-value of the window
    n_before: int
    n_after: int


def noise_sigma(rel: np.ndarray) -> float:
    """Robust sd of the point-to-point noise of a (relative) series."""
    if rel.size < 3:
        return 0.0
    d = np.diff(rel)
    return float(np.median(np.abs(d - np.median(d))) * _MAD_TO_SD / math.sqrt(2.0))


def _max_split_stat(w: np.ndarray, min_size: int) -> np.ndarray:
    """Rows of ``w`` → max over splits k of |mean(w[k:]) - mean(w[:k])| / sqrt(1/k + 1/(m-k))."""
    m = w.shape[1]
    c = np.cumsum(w, axis=1)
    k = np.arange(min_size, m - min_size + 1)
    head = c[:, k - 1] / k
    tail = (c[:, -1:] - c[:, k - 1]) / (m - k)
    z = np.abs(tail - head) / np.sqrt(1.0 / k + 1.0 / (m - k))
    out: np.ndarray = z.max(axis=1)
    return out


def permutation_p(window: np.ndarray, min_size: int, permutations: int, rng: np.random.Generator) -> float:
    """p-value that the window holds no mean shift, with the split location searched for."""
    observed = float(_max_split_stat(window[None, :], min_size)[0])
    shuffled = rng.permuted(np.tile(window, (permutations, 1)), axis=1)
    null = _max_split_stat(shuffled, min_size)
    # a tiny tolerance so float ties from reordering count as ties
    return float((1 + int(np.sum(null >= observed * (1 - 1e-12)))) / (permutations + 1))


def _candidates(rel: np.ndarray, sigma: float, cfg: StepConfig) -> list[int]:
    pen = cfg.penalty_beta * sigma * sigma * math.log(rel.size)
    # KernelCPD with a linear kernel is PELT with the L2 cost, implemented in C: the same breakpoints as
    # rpt.Pelt(model="l2", jump=1), ~700x faster (publishing runs this over thousands of series)
    algo = rpt.KernelCPD(kernel="linear", min_size=cfg.min_size).fit(rel)
    return [int(b) for b in algo.predict(pen=pen)[:-1]]


def detect_steps(values: Sequence[float] | np.ndarray, *, noise_floor: float = 0.0,
                 config: StepConfig = DEFAULT_CONFIG) -> tuple[Step, ...]:
    """Confirmed steps of ``values`` (finite, in run order), oldest first.

    ``noise_floor``: a lower bound on the relative point-to-point noise, e.g. the typical relative
    standard error of one run's median computed from its raw values.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or not np.all(np.isfinite(y)):
        raise ValueError("values must be a 1-D sequence of finite numbers")
    n = y.size
    if n < 2 * config.min_size:
        return ()
    centre = float(np.median(y))
    if centre <= 0.0:
        raise ValueError("values must be positive (latency, energy, memory, throughput)")
    rel = y / centre
    sigma = max(noise_sigma(rel), noise_floor, 1e-9)
    cands = _candidates(rel, sigma, config)
    rng = np.random.default_rng(config.seed)
    while cands:
        edges = [0, *cands, n]
        verdicts: list[tuple[float, float, int]] = []  # (p, |effect|, position)
        for i, b in enumerate(cands):
            lo, hi = edges[i], edges[i + 2]
            effect = float(np.median(rel[b:hi]) / np.median(rel[lo:b]) - 1.0)
            p = permutation_p(rel[lo:hi], config.min_size, config.permutations, rng) \
                if abs(effect) >= config.min_effect else 1.0
            verdicts.append((p, abs(effect), b))
        failing = [v for v in verdicts if v[0] >= config.alpha]
        if not failing:
            return tuple(_step(y, edges, i, p) for i, (p, _, _) in enumerate(verdicts))
        weakest = max(failing, key=lambda v: (v[0], -v[1]))
        cands.remove(weakest[2])
    return ()


def _step(y: np.ndarray, edges: list[int], i: int, p: float) -> Step:
    lo, b, hi = edges[i], edges[i + 1], edges[i + 2]
    before, after = float(np.median(y[lo:b])), float(np.median(y[b:hi]))
    return Step(index=b, before=before, after=after, rel_change=after / before - 1.0, p_value=p,
                n_before=b - lo, n_after=hi - b)


def _detect_packed(values: np.ndarray, bounds: np.ndarray, floors: np.ndarray,
                   config: StepConfig) -> list[tuple[Step, ...]]:
    """Worker side of :func:`detect_many`: series ``i`` is ``values[bounds[i]:bounds[i + 1]]``."""
    return [detect_steps(values[bounds[i]:bounds[i + 1]], noise_floor=float(floors[i]), config=config)
            if bounds[i + 1] > bounds[i] else () for i in range(floors.size)]


def _pack(batch: Sequence[tuple[np.ndarray, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = [v.size for v, _ in batch]
    values = np.concatenate([v for v, _ in batch]) if batch else np.empty(0)
    return (values.astype(np.float64, copy=False), np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            np.asarray([f for _, f in batch], dtype=np.float64))


#: series per task sent to a pool: big enough that pickling and scheduling stay negligible
BATCH = 250


def detect_many(series: Sequence[tuple[np.ndarray, float]], config: StepConfig = DEFAULT_CONFIG,
                executor: Executor | None = None, batch: int = BATCH) -> list[tuple[Step, ...]]:
    """:func:`detect_steps` over many (values, noise floor) series, in order. With ``executor`` (a process
    pool) batches of series travel as three flat arrays (values, bounds, floors), not as Python objects;
    each series is detected with its own seeded generator, so the result does not depend on the split."""
    if executor is None or len(series) <= batch:
        return _detect_packed(*_pack(series), config)
    futures = [executor.submit(_detect_packed, *_pack(series[i:i + batch]), config)
               for i in range(0, len(series), batch)]
    return [steps for fut in futures for steps in fut.result()]
