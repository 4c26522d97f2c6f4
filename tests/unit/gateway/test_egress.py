"""`EgressGuard`: refuses bodies with sensitive data, and unscannable content when told to."""

from __future__ import annotations

from router.classify import ExtraDetector, Sensitivity
from router.classify.sensitivity import Hit
from router.gateway.egress import EgressGuard

IMAGE = {"type": "image_url", "image_url": {"url": "https://img.example.com/cat.png"}}


def body(**fields: object) -> dict[str, object]:
    return {"model": "api-small", "messages": [{"role": "user", "content": "hello"}], **fields}


def _codename(text: str, lowered: str, shape: bytes) -> list[Hit]:
    pos = lowered.find("bluebird")
    return [("codename", pos, pos + 8)] if pos >= 0 else []


def test_clean_body_passes() -> None:
    assert EgressGuard().check(body(user="team-platform"), unscannable_local=True) is None


def test_sensitive_body_is_refused_with_kinds_and_fields_only() -> None:
    refusal = EgressGuard().check(body(user="jane.doe@example.com"), unscannable_local=False)
    assert refusal is not None
    assert refusal.findings == {"email": 1}
    assert refusal.fields == {"email": ("user",)}
    assert refusal.kinds == ("email",)
    assert refusal.describe() == "email x1 in user"
    assert "jane" not in refusal.describe()


def test_the_organisations_detectors_are_used() -> None:
    guard = EgressGuard([ExtraDetector("codename", Sensitivity.CONFIDENTIAL, _codename)])
    refusal = guard.check(body(metadata={"project": "Bluebird"}), unscannable_local=False)
    assert refusal is not None and refusal.fields == {"codename": ("metadata.project",)}
    assert EgressGuard().check(body(metadata={"project": "Bluebird"}),
                               unscannable_local=False) is None


def test_unscannable_content_is_refused_only_when_the_route_keeps_it_local() -> None:
    with_image = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, IMAGE]}]}
    assert EgressGuard().check(with_image, unscannable_local=False) is None
    refusal = EgressGuard().check(with_image, unscannable_local=True)
    assert refusal is not None
    assert refusal.unscannable == {"image": 1} and refusal.findings == {}
    assert refusal.kinds == ("unscannable_image",)
    assert refusal.describe() == "image x1 that cannot be scanned"
