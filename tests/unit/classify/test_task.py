"""Task scoring and difficulty: clear requests per task, context weights and the fallback."""

from __future__ import annotations

import pytest

from router.classify.difficulty import estimate_difficulty
from router.classify.features import text_features
from router.classify.task import score_tasks
from router.classify.types import Task

CLEAR_CASES = [
    ("Write a Python function that parses ISO dates and returns datetime objects.", Task.CODE),
    ("```js\nconst x = items.map(i => i.id);\n```\nWhy is x undefined here?", Task.CODE),
    ("Traceback (most recent call last):\n  ValueError: bad input\nHow do I fix this?", Task.CODE),
    ("How do I add a composite index in PostgreSQL?", Task.CODE),
    ("Solve for x: 4x - 7 = 2x + 9.", Task.MATH),
    ("What is the derivative of sin(x) * e^x?", Task.MATH),
    ("Find the probability of rolling two sixes with two dice.", Task.MATH),
    ("Prove that the sum of two even integers is even.", Task.MATH),
    ("Weigh the pros and cons of moving our team to a four-day week.", Task.REASONING),
    (
        "This riddle has me stuck: what has keys but can't open locks? Explain the logic.",
        Task.REASONING,
    ),
    (
        "Analyze the trade-offs between consistency and availability for our checkout.",
        Task.REASONING,
    ),
    ("Extract the names and e-mail domains from this list as JSON.", Task.EXTRACTION),
    ("Pull out every date mentioned in the following contract.", Task.EXTRACTION),
    ("Classify each review below as positive, negative or neutral.", Task.EXTRACTION),
    ("Summarize this report in three bullet points: sales rose, costs fell.", Task.SUMMARISATION),
    ("TL;DR please: the committee met for four hours and decided nothing.", Task.SUMMARISATION),
    ("Give me the key takeaways from this meeting transcript.", Task.SUMMARISATION),
    ("Translate into Spanish: the shop opens at nine.", Task.TRANSLATION),
    ("How do you say 'thank you' in Japanese?", Task.TRANSLATION),
    ("Traduis en anglais : je suis en retard.", Task.TRANSLATION),
    ("把这句话翻译成英文: 今天很冷。", Task.TRANSLATION),
    ("Write a haiku about autumn rain.", Task.CREATIVE),
    ("Tell me a bedtime story about a brave little turtle.", Task.CREATIVE),
    ("Give me a catchy slogan for a bike shop.", Task.CREATIVE),
    ("Hi there! How are you today?", Task.CHAT),
    ("What's the capital of Portugal?", Task.CHAT),
    ("Thanks, that helped a lot!", Task.CHAT),
]


@pytest.mark.parametrize(("prompt", "task"), CLEAR_CASES)
def test_clear_requests_get_their_task(prompt: str, task: Task) -> None:
    assessment = score_tasks(text_features(prompt))
    assert assessment.task is task, assessment.scores


def test_scores_cover_every_task_and_sum_to_one() -> None:
    scores = score_tasks(text_features("Summarize this article about Python.")).scores
    assert set(scores) == {t.value for t in Task}
    assert sum(scores.values()) == pytest.approx(1.0)
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def test_chat_is_the_fallback_when_nothing_scores() -> None:
    assessment = score_tasks(text_features("hmm, okay."))
    assert assessment.task is Task.CHAT
    assert assessment.signals == ("task chat: no cues, fallback",)
    assert score_tasks(text_features("")).task is Task.CHAT


def test_one_instruction_outweighs_many_topic_words() -> None:
    prompt = "Summarize this server log: api endpoint http error, docker deploy, nginx, json."
    assert score_tasks(text_features(prompt)).task is Task.SUMMARISATION


def test_system_prompt_weighs_less_than_the_request() -> None:
    system = text_features("You are a Python coding assistant.")
    assert score_tasks(text_features("Write a haiku about the sea."), system=system).task is (
        Task.CREATIVE
    )
    # With no cue of its own, a follow-up takes its task from the context.
    followup = text_features("Now do the same for the other one.")
    assert score_tasks(followup, system=system).task is Task.CODE


def test_history_carries_a_follow_up() -> None:
    history = text_features("Translate into German: the train is late.")
    assert score_tasks(text_features("And this one?"), history=history).task is Task.TRANSLATION


def test_json_response_format_leans_towards_extraction() -> None:
    prompt = text_features("Name, city and age from: Priya, Pune, 34.")
    assert score_tasks(prompt, wants_json=True).task is Task.EXTRACTION


def test_signals_name_the_cues_not_the_text() -> None:
    signals = score_tasks(text_features("Write a limerick about my cat Biscuit.")).signals
    assert signals[0].startswith("task creative: limerick")
    assert "Biscuit" not in " ".join(signals)


@pytest.mark.parametrize(
    ("easier", "easy_task", "harder", "hard_task"),
    [
        ("Hi!", Task.CHAT,
         "Compare three database designs for our analytics workload and justify one.",
         Task.REASONING),
        ("Write a Python function to add two numbers.", Task.CODE,
         "Design a distributed, fault-tolerant job scheduler in Go; it must handle edge cases, "
         "exactly-once delivery and leader election. Explain the trade-offs step by step.",
         Task.CODE),
        ("What is 2 + 2?", Task.MATH,
         "Prove rigorously that every bounded monotone sequence converges.", Task.MATH),
    ],
)  # fmt: skip
def test_difficulty_orders_requests(
    easier: str, easy_task: Task, harder: str, hard_task: Task
) -> None:
    low = estimate_difficulty(text_features(easier), easy_task, prompt_tokens=len(easier) // 4)
    high = estimate_difficulty(text_features(harder), hard_task, prompt_tokens=len(harder) // 4)
    assert 0.0 <= low.score < high.score <= 1.0


def test_difficulty_grows_with_length_and_stays_in_range() -> None:
    features = text_features("Summarize this.")
    short = estimate_difficulty(features, Task.SUMMARISATION, prompt_tokens=20).score
    long = estimate_difficulty(features, Task.SUMMARISATION, prompt_tokens=20_000).score
    assert short < long <= 1.0
    huge = text_features("prove optimize distributed concurrency " * 50 + "```\n" * 400)
    assert estimate_difficulty(huge, Task.REASONING, prompt_tokens=10**7).score == 1.0
