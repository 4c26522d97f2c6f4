"""The normalised view: what changes, what stays, and the fast path that makes no copy."""

from __future__ import annotations

import pytest

from router.classify._normalise import normalised


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII, nothing to do",
        "100% sure, 50%off, 3 % 2",  # a "%" without two hex digits is not an escape
        "caf\u00e9 na\u00efve \u201cquoted\u201d \u2014 dash",  # typography stays as it is
        "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u3002",
        "great work \U0001f389\U0001f44d",  # emoji are not folded
    ],
)
def test_text_with_nothing_to_undo_needs_no_copy(text: str) -> None:
    assert normalised(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane.doe%40example.com", "jane.doe@example.com"),
        ("jane.doe%2540example.com", "jane.doe@example.com"),  # twice, and no more
        ("\uff14\uff11\uff11\uff11", "4111"),  # full-width digits
        ("\uff14\uff11\u3000\uff11\uff11", "41 11"),  # joined by an ideographic space
        ("4\u200b1\u200c1\u200d1\u2060", "4111"),  # zero-width and word joiner
        ("\u0421ONFIDENTIAL", "CONFIDENTIAL"),  # Cyrillic capital ES
        ("\u03a4\u039f\u03a1", "TOP"),  # Greek capitals
        ("\u0406D", "ID"),  # Cyrillic capital I stays a capital
        ("\U0001d402\U0001d40e", "CO"),  # mathematical bold
        ("\u0664\u0661\u0661\u0661", "4111"),  # Arabic-Indic digits
        ("A\U000e0041B", "AB"),  # a tag character
        ("pay\u00a0now", "pay now"),  # a no-break space
    ],
)
def test_disguises_are_undone(text: str, expected: str) -> None:
    assert normalised(text) == expected


def test_prose_in_another_script_keeps_its_length_and_its_own_letters() -> None:
    # Dense enough for the one-translate path: "Segodnya khorosho." 200 times.
    sentence = "\u0421\u0435\u0433\u043e\u0434\u043d\u044f \u0445\u043e\u0440\u043e\u0448\u043e. "
    russian = sentence * 200
    view = normalised(russian)
    assert view is not None and len(view) == len(russian)
    assert "\u0434" in view  # letters without a Latin twin stay Cyrillic


def test_warm_up_builds_the_lazy_tables_before_the_first_request() -> None:
    from router.classify import _normalise, _personal_names
    from router.classify._personal import PERSONAL_DATA_DETECTORS
    from router.classify.sensitivity import warm_up

    _normalise._folding.cache_clear()
    _personal_names.first_names.cache_clear()
    warm_up(PERSONAL_DATA_DETECTORS)
    assert _normalise._folding.cache_info().currsize == 1
    assert _personal_names.first_names.cache_info().currsize == 1
