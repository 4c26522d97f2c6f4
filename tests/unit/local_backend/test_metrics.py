"""Parsing vLLM's /metrics (a capture from the real server) and the histogram-delta maths."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from local_backend.metrics import (
    EndpointLoad,
    Histogram,
    MetricsParseError,
    endpoint_load,
    parse_metrics,
)

DATA = Path(__file__).resolve().parents[2] / "data"
# Captured from vLLM 0.32 (CPU) serving the tiny model with --max-num-seqs 2: the first while six
# requests were in flight, the second after they finished.
LOADED = (DATA / "vllm_metrics_sample.txt").read_text()
LATER = (DATA / "vllm_metrics_sample_later.txt").read_text()


def hist(*pairs: tuple[float, float], total: float = 0.0) -> Histogram:
    return Histogram(tuple(pairs), total)


def test_parses_the_real_capture() -> None:
    scrape = parse_metrics(LOADED, at=10.0)
    assert (scrape.running, scrape.waiting) == (2.0, 4.0)
    assert scrape.kv_cache_usage == pytest.approx(0.0009766817238432424)
    assert (scrape.prompt_tokens, scrape.generation_tokens) == (1413.0, 704.0)
    assert scrape.ttft.count > 0 and math.isinf(scrape.ttft.buckets[-1][0])
    assert scrape.itl.count > 0 and scrape.e2e.count > 0 and scrape.queue_time.count > 0
    assert [b for b, _ in scrape.ttft.buckets] == sorted(b for b, _ in scrape.ttft.buckets)


def test_recent_percentiles_come_from_the_difference_between_scrapes() -> None:
    earlier, later = parse_metrics(LOADED, at=10.0), parse_metrics(LATER, at=12.0)
    load = endpoint_load("http://vllm:8000", later, earlier, None, scraped_at_wall=1e9)
    window = later.ttft.minus(earlier.ttft)
    assert window.count == later.ttft.count - earlier.ttft.count > 0
    assert load.ttft_p50_s == window.quantile(0.5)
    assert load.ttft_p95_s == window.quantile(0.95)
    assert load.ttft_p50_s is not None and load.ttft_p95_s is not None
    assert 0 < load.ttft_p50_s <= load.ttft_p95_s
    assert load.generation_tokens_per_s == pytest.approx((1399 - 704) / 2)
    assert load.prompt_tokens_per_s == pytest.approx((1537 - 1413) / 2)
    both = load.prompt_tokens_per_s + load.generation_tokens_per_s
    assert load.tokens_per_s == pytest.approx(both)
    assert (load.running, load.waiting, load.healthy) == (0, 0, True)
    assert load.last_scrape_at == 1e9


def test_first_scrape_uses_everything_since_start_and_no_rate() -> None:
    scrape = parse_metrics(LATER, at=1.0)
    load = endpoint_load("e", scrape, None, None, scraped_at_wall=0.0)
    assert load.ttft_p50_s == scrape.ttft.quantile(0.5)
    assert load.tokens_per_s == 0.0


def test_an_idle_window_keeps_the_last_recent_figures() -> None:
    scrape = parse_metrics(LATER, at=1.0)
    again = parse_metrics(LATER, at=2.0)
    previous = EndpointLoad("e", True, ttft_p50_s=0.123, ttft_p95_s=0.456, e2e_p50_s=2.0)
    load = endpoint_load("e", again, scrape, previous, scraped_at_wall=0.0)
    assert (load.ttft_p50_s, load.ttft_p95_s, load.e2e_p50_s) == (0.123, 0.456, 2.0)
    assert load.tokens_per_s == 0.0


def test_counter_reset_counts_from_zero() -> None:
    # A restarted server's counters start again: the later scrape's totals are all new.
    restarted, before = parse_metrics(LOADED, at=20.0), parse_metrics(LATER, at=10.0)
    load = endpoint_load("e", restarted, before, None, scraped_at_wall=0.0)
    assert load.generation_tokens_per_s == pytest.approx(704 / 10)
    assert load.ttft_p50_s == restarted.ttft.quantile(0.5)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.14),  # rank 5 of 10: 2 of the 5 observations into (0.1, 0.2]
        (0.3, 0.1),  # exactly the top of the first bucket
        (0.8, 0.2),
        (0.95, 0.425),  # rank 9.5: 1.5 of the 2 observations into (0.2, 0.5]
        (1.0, 0.5),
    ],
)
def test_quantile_interpolates_inside_buckets(q: float, expected: float) -> None:
    h = hist((0.1, 3), (0.2, 8), (0.5, 10), (math.inf, 10))
    assert h.quantile(q) == pytest.approx(expected)


def test_quantile_edges() -> None:
    assert hist((0.1, 0), (math.inf, 0)).quantile(0.5) is None
    assert Histogram().quantile(0.5) is None and Histogram().mean() is None
    # Observations past the last finite bound: the answer is that bound.
    assert hist((0.1, 0), (1.0, 1), (math.inf, 4)).quantile(0.95) == 1.0
    assert hist((0.1, 2), (math.inf, 2), total=0.1).mean() == pytest.approx(0.05)


def test_minus_subtracts_buckets_and_detects_resets() -> None:
    earlier = hist((0.1, 1), (1.0, 2), (math.inf, 2), total=0.5)
    later = hist((0.1, 1), (1.0, 5), (math.inf, 6), total=4.5)
    assert later.minus(earlier) == hist((0.1, 0), (1.0, 3), (math.inf, 4), total=4.0)
    assert earlier.minus(later) == earlier  # went down: a restart, keep the new histogram
    other_bounds = hist((0.5, 1), (math.inf, 1))
    assert later.minus(other_bounds) == later


def test_sums_engines_and_averages_kv_usage() -> None:
    text = "\n".join(
        [
            "# TYPE vllm:num_requests_running gauge",
            'vllm:num_requests_running{engine="0",model_name="m"} 3.0',
            'vllm:num_requests_running{engine="1",model_name="m"} 1.0',
            "# TYPE vllm:num_requests_waiting gauge",
            'vllm:num_requests_waiting{engine="0",model_name="m"} 2.0',
            'vllm:num_requests_waiting{engine="1",model_name="m"} 0.0',
            "# TYPE vllm:kv_cache_usage_perc gauge",
            'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.8',
            'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.2',
            "# TYPE vllm:time_to_first_token_seconds histogram",
            'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 1.0',
            'vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 2.0',
            'vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="m"} 3.0',
            'vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="m"} 3.0',
            'vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 2.0',
            'vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.5',
            "",
        ]
    )
    scrape = parse_metrics(text, at=0.0)
    assert (scrape.running, scrape.waiting) == (4.0, 2.0)
    assert scrape.kv_cache_usage == pytest.approx(0.5)
    assert scrape.ttft == hist((0.1, 4.0), (math.inf, 5.0), total=0.5)
    assert scrape.prompt_tokens == 0.0 and scrape.itl.count == 0


@pytest.mark.parametrize(
    "text",
    [
        "# TYPE up gauge\nup 1\n",  # Prometheus text, but not vLLM's
        "<html>not metrics</html>",
    ],
)
def test_rejects_text_that_is_not_vllm_metrics(text: str) -> None:
    with pytest.raises(MetricsParseError):
        parse_metrics(text, at=0.0)
