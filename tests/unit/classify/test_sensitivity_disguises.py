"""Disguises: every planted value is found however it is spelled or encoded, within the bounds.

The values and disguises are the shared lists in `tests/support/sensitive_values.py`; the
leak tests send the same ones through the gateway.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterator

import pytest

from router.classify import _decode
from router.classify.sensitivity import (
    KIND_LEVELS,
    MAX_DECODE_DEPTH,
    ExtraDetector,
    Hit,
    scan_text,
)
from router.classify.types import Sensitivity
from tests.support.sensitive_values import DISGUISES, PLANTED, Planted

CASES = [
    pytest.param(planted, name, id=f"{planted.kind}-{i}-{name}")
    for i, planted in enumerate(PLANTED)
    for name in DISGUISES
]


@pytest.mark.parametrize(("planted", "disguise"), CASES)
def test_every_disguise_of_every_value_is_found(planted: Planted, disguise: str) -> None:
    text = planted.text(DISGUISES[disguise](planted.value))
    scan = scan_text(text)
    assert scan.findings.get(planted.kind, 0) >= 1, scan.findings
    assert scan.level is KIND_LEVELS[planted.kind]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # Two disguises at once: a homoglyph inside base64, a percent-escape inside hex.
        ("memo " + b64("\u0421ONFIDENTIAL: Q3 plan"), "confidential_marker"),
        ("q=" + b"jane.doe%40example.com".hex(), "email"),
        # Full-width digits separated by ideographic spaces, and a no-break space.
        ("card \uff14\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11\u3000"
         "\uff11\uff11\uff11\uff11\u3000\uff11\uff11\uff11\uff11", "payment_card"),
        ("call +44\u00a020\u00a07946\u00a00958", "phone"),
        # Soft hyphens and word joiners are format characters too.
        ("jane\u00ad.doe\u2060@example.com", "email"),
        # Digits of other scripts: Arabic-Indic and Devanagari.
        ("card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 "
         "\u0661\u0661\u0661\u0661", "payment_card"),
        ("SSN \u0966\u096d\u096e-\u0966\u096b-\u0967\u0967\u0968\u0966", "us_ssn"),
        # Mathematical bold capitals fold by NFKC; tag characters are dropped.
        ("\U0001d402\U0001d40e\U0001d40d\U0001d405\U0001d408\U0001d403\U0001d404\U0001d40d"
         "\U0001d413\U0001d408\U0001d400\U0001d40b: plan", "confidential_marker"),
        ("AKIA\U000e0041IOSFODNN7EXAMPLE", "api_key"),
        # Greek capitals as homoglyphs.
        ("\u03a4\u039f\u03a1 SECRET", "confidential_marker"),
        # base64 inside base64 is within the two levels decoded.
        ("blob " + b64(b64("please charge card 4111 1111 1111 1111")), "payment_card"),
        # Line-wrapped base64, as `base64` prints it.
        (base64.encodebytes(("x" * 60 + " jane.doe@example.com ").encode() * 3).decode(),
         "email"),
        # The context around an encoded value still counts: "aws" before a secret key.
        ("aws_secret_access_key = " + b64("wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"),
         "api_key"),
        ("data:text/plain;charset=utf-8;base64," + b64("SSN 078-05-1120"), "us_ssn"),
        ("data:text/plain,write%20to%20jane.doe%40example.com", "email"),
        ("to=jane.doe%2540example.com", "email"),  # percent-encoded twice
    ],
)  # fmt: skip
def test_combined_disguises(text: str, kind: str) -> None:
    scan = scan_text(text)
    assert scan.findings.get(kind, 0) >= 1, scan.findings


def test_decoding_stops_at_the_depth_bound() -> None:
    text = "4111 1111 1111 1111"
    for _ in range(MAX_DECODE_DEPTH + 1):
        text = b64(text)
    assert scan_text(text).findings == {}  # three layers: past the documented bound


def test_decode_budget_caps_the_bytes_decoded() -> None:
    budget = _decode.DecodeBudget(remaining=30)
    decoded = _decode.decode(b64("jane.doe@example.com " * 10), budget)
    assert decoded is not None and len(decoded) <= 30
    assert budget.remaining <= 0
    assert _decode.decode(b64("more text after the budget"), budget) is None


def test_a_value_past_the_budget_is_not_decoded_but_the_scan_ends() -> None:
    filler = "lorem ipsum dolor sit amet " * 50_000  # ~1.3 MiB of text, then the card
    scan = scan_text(b64(filler + " card 4111 1111 1111 1111"))
    assert scan.findings == {}


@pytest.mark.parametrize("image_first", [True, False])
def test_a_short_value_beside_a_large_image_is_still_found(image_first: bool) -> None:
    # An image costs the budget one probe, and short runs are decoded first anyway.
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(1_500_000))
    secret = b64("card 4111 1111 1111 1111")
    parts = [image.decode(), secret] if image_first else [secret, image.decode()]
    assert scan_text(" ".join(parts)).findings == {"payment_card": 1}


def test_every_attempt_costs_at_least_the_minimum_charge() -> None:
    budget = _decode.DecodeBudget()
    assert _decode.decode("Zk3pQ8vX1tY7", budget) is None  # 9 bytes of noise
    assert _decode.DEFAULT_BUDGET - budget.remaining == _decode.MIN_CHARGE == 32


def test_an_image_costs_only_a_probe() -> None:
    budget = _decode.DecodeBudget()
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + random.Random(5).randbytes(100_000))
    assert _decode.decode(image.decode(), budget) is None
    assert _decode.DEFAULT_BUDGET - budget.remaining <= 48


@pytest.mark.parametrize("name", ["png", "random"])
def test_binary_payloads_are_not_text(name: str) -> None:
    rng = random.Random(7)
    payload = b"\x89PNG\r\n\x1a\n" + rng.randbytes(4000) if name == "png" else rng.randbytes(4000)
    encoded = base64.b64encode(payload).decode()
    assert _decode.decode(encoded, _decode.DecodeBudget()) is None
    text = f'<img src="data:image/png;base64,{encoded}"> and {payload.hex()}'
    assert scan_text(text).findings == {}


def test_a_value_inside_a_claimed_token_counts_once() -> None:
    # The JWT's payload decodes to JSON with an e-mail in it: one finding, the JWT.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(b'{"email":"jane.doe@example.com"}').decode().rstrip("=")
    scan = scan_text(f"Bearer {header}.{payload}.c2lnbmF0dXJlLW5vdC1yZWFs")
    assert scan.findings == {"jwt": 1}


def test_each_value_inside_a_decoded_run_counts() -> None:
    scan = scan_text(b64("mail a@example.com and b@example.com"))
    assert scan.findings == {"email": 2}


def test_values_in_separate_runs_count_separately() -> None:
    # One spliced view holds every run of a level; each value still counts where it is.
    text = f"first {b64('mail a@example.com')} then {b64('card 4111 1111 1111 1111')} and " + b64(
        "mail a@example.com"
    )
    assert scan_text(text).findings == {"email": 2, "payment_card": 1}


def test_a_normalised_value_counts_once() -> None:
    scan = scan_text("\u0421ONFIDENTIAL memo for jane.doe%40example.com")
    assert scan.findings == {"confidential_marker": 1, "email": 1}


_CODENAME = re.compile(r"project bluebird")


def find_codename(text: str, lowered: str, shape: bytes) -> Iterator[Hit]:
    for match in _CODENAME.finditer(lowered):
        yield "codename", match.start(), match.end()


@pytest.mark.parametrize(
    "text",
    [
        "status of Project Bluebird",
        "status of Project Blu\u0435bird",  # a Cyrillic "e"
        "status of Project \u200bBlue\u200dbird",
        "status: " + b64("Project Bluebird launch"),
        "status of Project%20Bluebird",
    ],
)
def test_extra_detectors_see_the_normalised_and_decoded_text(text: str) -> None:
    extra = [ExtraDetector("codename", Sensitivity.CONFIDENTIAL, find_codename)]
    scan = scan_text(text, extra)
    assert scan.findings == {"codename": 1}
    assert scan.level is Sensitivity.CONFIDENTIAL
