"""Statistics on known samples."""

import numpy as np
import pytest

from benchbench.analysis.stats import latency_stats, median_ci


def test_order_statistics_on_1_to_100():
    st = latency_stats(list(range(1, 101)))
    assert st.n == 100
    assert st.min_s == 1 and st.max_s == 100
    assert st.p50_s == pytest.approx(50.5)
    assert st.p90_s == pytest.approx(90.1)  # linear interpolation: 1 + 0.9 * 99
    assert st.p99_s == pytest.approx(99.01)
    assert st.mean_s == pytest.approx(50.5)
    assert st.sd_s == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_median_ci_brackets_median_and_shrinks_with_n():
    rng = np.random.default_rng(42)
    small = rng.normal(10.0, 1.0, 30)
    large = rng.normal(10.0, 1.0, 3000)
    lo_s, hi_s = median_ci(small)
    lo_l, hi_l = median_ci(large)
    assert lo_s <= np.median(small) <= hi_s
    assert lo_l <= np.median(large) <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 4  # ~sqrt(100)=10x narrower in theory


def test_median_ci_is_reproducible_and_degenerate_for_constant_samples():
    v = np.random.default_rng(1).exponential(1.0, 200)
    assert median_ci(v) == median_ci(v)
    assert median_ci(np.full(20, 3.0)) == (3.0, 3.0)


def test_ci_covers_true_median_about_95_percent():
    rng = np.random.default_rng(7)
    hits = 0
    trials = 200
    for _ in range(trials):
        lo, hi = median_ci(rng.normal(0.0, 1.0, 50), n_resamples=500)
        hits += lo <= 0.0 <= hi
    assert 0.88 <= hits / trials <= 0.995


def test_single_value_and_empty():
    st = latency_stats([0.5])
    assert st.p50_s == st.p99_s == st.ci95_lo_s == 0.5 and st.sd_s == 0.0
    with pytest.raises(ValueError):
        latency_stats([])
