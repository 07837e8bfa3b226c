"""Statistics, FLOPs, the timing loop and the latency-budget choice, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from vgg_deploy.bench.budget import over_budget, select_within_budget
from vgg_deploy.bench.flops import model_flops, model_macs
from vgg_deploy.bench.measure import timed_loop
from vgg_deploy.bench.stats import WIDE_SPREAD, Measurement, percentile
from vgg_deploy.models import model_config


def test_percentile_is_linear_interpolation_between_ranks():
    values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]  # unsorted on purpose
    # position h = (n - 1) q = 9 q; value = x[floor h] + frac(h) * (x[floor h + 1] - x[floor h])
    assert percentile(values, 0.5) == pytest.approx(5.5)   # h = 4.5
    assert percentile(values, 0.25) == pytest.approx(3.25)  # h = 2.25
    assert percentile(values, 0.75) == pytest.approx(7.75)  # h = 6.75
    assert percentile(values, 0.9) == pytest.approx(9.1)    # h = 8.1
    assert percentile(values, 0.99) == pytest.approx(9.91)  # h = 8.91
    assert percentile(values, 0.0) == 1 and percentile(values, 1.0) == 10
    assert percentile([4.0], 0.99) == 4.0


def test_percentile_matches_numpy_default():
    values = np.random.default_rng(1).gamma(2.0, size=37).tolist()
    for q in (0.1, 0.25, 0.5, 0.9, 0.99):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, 100 * q)))


@pytest.mark.parametrize("values, q", [([], 0.5), ([1.0], 1.5), ([1.0], -0.1)])
def test_percentile_refuses_bad_input(values, q):
    with pytest.raises(ValueError):
        percentile(values, q)


def test_measurement_figures_by_hand():
    m = Measurement(batch_size=4, latencies_s=(0.010, 0.012, 0.011, 0.013, 0.030), warmup=2)
    # sorted ms: 10 11 12 13 30; n - 1 = 4
    assert m.median == pytest.approx(0.012)
    assert m.iqr == pytest.approx(0.013 - 0.011)            # p75 at h=3, p25 at h=1
    assert m.p90 == pytest.approx(0.013 + 0.6 * 0.017)      # h = 3.6
    assert m.p99 == pytest.approx(0.013 + 0.96 * 0.017)     # h = 3.96
    assert m.max == 0.030 and m.min == 0.010
    assert m.mean == pytest.approx(0.0152)
    assert m.images_per_s == pytest.approx(4 / 0.012)
    assert m.relative_spread == pytest.approx(0.002 / 0.012)
    assert m.wide_spread and "wide spread" in m.warning() and "17%" in m.warning()


def test_narrow_spread_has_no_spread_warning():
    m = Measurement(batch_size=1, latencies_s=tuple(0.1 + 0.001 * (i % 3) for i in range(12)))
    assert m.relative_spread <= WIDE_SPREAD and not m.wide_spread
    assert m.warning() is None
    few = Measurement(batch_size=1, latencies_s=(0.1, 0.1, 0.1))
    assert few.warning() == "only 3 timed calls: p99 is interpolated from few samples"


def test_measurement_round_trips_through_its_dict():
    m = Measurement(batch_size=8, latencies_s=(0.5, 0.25, 0.75), warmup=1)
    data = m.to_dict()
    assert data["median_ms"] == pytest.approx(500.0) and data["iqr_ms"] == pytest.approx(250.0)
    assert data["latencies_ms"] == pytest.approx([500.0, 250.0, 750.0])
    again = Measurement.from_dict(data)
    assert again.latencies_s == pytest.approx(m.latencies_s) and again.warmup == 1 and again.batch_size == 8


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, latencies_s=(1.0,)), dict(batch_size=1, latencies_s=()),
                                    dict(batch_size=1, latencies_s=(0.0,)), dict(batch_size=1, latencies_s=(float("nan"),))])
def test_measurement_refuses_impossible_samples(kwargs):
    with pytest.raises(ValueError):
        Measurement(**kwargs)


def test_timed_loop_counts_warmup_and_iterations():
    calls = []
    m = timed_loop(lambda: calls.append(1), warmup=3, iterations=7, duration_s=None, batch_size=2)
    assert len(calls) == 10 and m.count == 7 and m.warmup == 3 and m.batch_size == 2


def test_timed_loop_by_duration_times_at_least_three_calls():
    calls = []
    m = timed_loop(lambda: calls.append(1), warmup=0, iterations=None, duration_s=1e-9, batch_size=1)
    assert m.count == 3 and len(calls) == 3


def test_model_macs_by_hand():
    # vgg_tiny: 3x32x32, blocks (1, 8), (1, 16), (2, 32), flatten, classifier 64, 10 classes
    convs = 32 * 32 * 3 * 8 * 9 + 16 * 16 * 8 * 16 * 9 + 8 * 8 * 16 * 32 * 9 + 8 * 8 * 32 * 32 * 9
    linears = (32 * 4 * 4) * 64 + 64 * 64 + 64 * 10
    assert model_macs(model_config("vgg_tiny")) == convs + linears
    assert model_flops(model_config("vgg_tiny")) == 2 * (convs + linears)
    assert model_macs(model_config("vgg16")) == 15_470_264_320  # torchvision lists 15.47 G for VGG-16


def _synthetic(batch: int, p99_ms: float, median_ms: float) -> Measurement:
    # 100 samples: 98 at the median, two at p99 -> p99 = interpolation between them lands on p99_ms
    samples = [median_ms] * 98 + [p99_ms, p99_ms]
    return Measurement(batch_size=batch, latencies_s=tuple(s / 1e3 for s in samples))


def test_budget_picks_the_fastest_batch_within_p99():
    measured = [
        ("a", _synthetic(1, p99_ms=6, median_ms=5)),      # 200 img/s
        ("a", _synthetic(8, p99_ms=30, median_ms=25)),    # 320 img/s: the pick at 50 ms
        ("a", _synthetic(32, p99_ms=120, median_ms=90)),  # 356 img/s, but p99 over budget
        ("b", _synthetic(1, p99_ms=60, median_ms=55)),    # nothing fits
        ("c", _synthetic(1, p99_ms=10, median_ms=10)),    # 100 img/s
        ("c", _synthetic(2, p99_ms=20, median_ms=20)),    # 100 img/s: a tie goes to the smaller batch
    ]
    choices = {c.backend: c for c in select_within_budget(measured, 50.0)}
    assert list(choices) == ["a", "b", "c"]
    assert choices["a"].batch_size == 8 and choices["a"].images_per_s == pytest.approx(320.0)
    assert choices["a"].p99_ms == pytest.approx(30.0) and choices["a"].tried == (1, 8, 32)
    assert choices["b"].batch_size is None and choices["b"].images_per_s is None
    assert choices["c"].batch_size == 1
    assert select_within_budget(measured, 130.0)[0].batch_size == 32
    assert over_budget(_synthetic(32, 120, 90), 50.0) and not over_budget(_synthetic(8, 30, 25), 50.0)
