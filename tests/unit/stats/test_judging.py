import pytest

from router.stats.judging import build_judge_messages, parse_judge_score, should_judge


def test_sampling_is_deterministic_per_request_id() -> None:
    ids = [f"req-{i}" for i in range(2_000)]
    first = [should_judge(0.1, rid, sensitive=False) for rid in ids]
    assert first == [should_judge(0.1, rid, sensitive=False) for rid in ids]
    assert 0.07 < sum(first) / len(ids) < 0.13


def test_a_larger_share_samples_a_superset() -> None:
    ids = [f"req-{i}" for i in range(500)]
    small = {rid for rid in ids if should_judge(0.05, rid, sensitive=False)}
    large = {rid for rid in ids if should_judge(0.3, rid, sensitive=False)}
    assert small <= large


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_sensitive_requests_are_never_judged(share: float) -> None:
    assert not any(should_judge(share, f"req-{i}", sensitive=True) for i in range(500))


def test_share_edges() -> None:
    ids = [f"req-{i}" for i in range(200)]
    assert all(should_judge(1.0, rid, sensitive=False) for rid in ids)
    assert not any(should_judge(0.0, rid, sensitive=False) for rid in ids)
    assert not should_judge(float("nan"), "req-1", sensitive=False)


def test_judge_prompt_fences_the_material_and_clips_it() -> None:
    messages = build_judge_messages("What is 2+2?", "x" * 20_000, max_chars=1_000)
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "<question>\nWhat is 2+2?\n</question>" in user
    assert "characters omitted" in user
    assert len(user) < 1_500


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 8, "reason": "mostly right"}', 0.8),
        ('```json\n{"score": 10, "reason": "ok"}\n```', 1.0),
        ('{"reason": "wrong", "score": 0}', 0.0),
        ('{"score": "7/10"}', 0.7),
        ('{"score": 0.85}', 0.85),
        ('{"rating": 3}', 0.3),
        ("Score: 7", 0.7),
        ("The answer is decent. Rating: 6/10.", 0.6),
        ("I'd give it 4 out of 5.", 0.8),
        ("Final score - 9", 0.9),
        ("Overall 85%", 0.85),
        ("7", 0.7),
        ("0.3", 0.3),
        ("1", 0.1),
        ("1.0", 1.0),
        ("**8**", 0.8),
        ("First thought score: 3, but on reflection score: 9", 0.9),
    ],
)
def test_parse_judge_score(reply: str, score: float) -> None:
    assert parse_judge_score(reply) == pytest.approx(score)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot grade this.",
        '{"score": 15}',
        '{"score": -2}',
        "Score: 12/10",
        "Score: -3",
        "The answer mentions 2024 and 300 apples.",
        '{"score": true}',
        "150%",
    ],
)
def test_unusable_replies_give_none(reply: str) -> None:
    assert parse_judge_score(reply) is None
