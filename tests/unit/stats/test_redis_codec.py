import numpy as np

from router.stats.redis_codec import decode, encode, split_field
from router.stats.window import BucketAgg, Contribution


def test_encoded_contributions_decode_to_the_same_sums() -> None:
    items = [
        Contribution(
            "code",
            "a|b/model",
            attempts=2,
            errors=1,
            answered=1,
            tokens_in=10,
            tokens_out=20,
            tokens_reasoning=5,
            cost_usd=0.25,
            total_ms=300,
            ttft_ms=40,
        ),
        Contribution("code", "a|b/model", attempts=1, answered=1, tokens_out=7, total_ms=900),
    ]
    raw: dict[bytes, bytes] = {}
    for item in items:
        ints, floats = encode(item)
        for name, value in [*ints.items(), *floats.items()]:
            key = name.encode()
            raw[key] = str(float(raw.get(key, b"0")) + value).removesuffix(".0").encode()
    expected = BucketAgg()
    for item in items:
        expected.add(item)
    got = decode(raw)[("code", "a|b/model")]
    assert (got.attempts, got.errors, got.answered) == (3, 1, 2)
    assert (got.tokens_in, got.tokens_out, got.tokens_reasoning) == (10, 27, 5)
    assert got.cost_usd == 0.25
    assert np.array_equal(got.total_hist, expected.total_hist)
    assert np.array_equal(got.ttft_hist, expected.ttft_hist)


def test_unknown_and_malformed_fields_are_skipped() -> None:
    aggs = decode({"junk": "1", "code|m|att": "2", "code|m|lt9999": "1", "code|m|err": "x"})
    assert aggs[("code", "m")].attempts == 2
    assert aggs[("code", "m")].errors == 0


def test_model_names_may_contain_the_separator() -> None:
    assert split_field("chat|vendor|model|att") == (("chat", "vendor|model"), "att")
    assert split_field("chat|att") is None
