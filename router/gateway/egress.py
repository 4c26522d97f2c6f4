"""The egress guard: the last look at a body before it leaves for an external model.

The classifier and the policy engine already keep sensitive requests local. The guard does not
trust them: `Executor` hands it exactly the body a provider is about to send to a model whose
residency is external, and the guard scans it again with the same detectors (`scan_body`,
organisation detectors included). Whatever it finds, nothing is sent to that model and no
other external model is tried; a local candidate may still serve. What it reports names kinds
and field paths, never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.classify.body import scan_body
from router.classify.sensitivity import ExtraDetector
from router.classify.types import TOKEN_IDS, Sensitivity


@dataclass(frozen=True, slots=True)
class EgressRefusal:
    """Why the guard kept a body from an external model: kinds, fields and unscannable parts."""

    findings: Mapping[str, int] = field(default_factory=dict)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unscannable: Mapping[str, int] = field(default_factory=dict)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Metric labels: the kinds found, then ``unscannable_<kind>`` for what was refused."""
        return (*sorted(self.findings), *(f"unscannable_{k}" for k in sorted(self.unscannable)))

    def describe(self) -> str:
        """``email x1 in user, tools[0].function.description; image x1 that cannot be scanned``."""
        parts = [
            f"{kind} x{count} in {', '.join(self.fields.get(kind, ())) or 'the body'}"
            for kind, count in sorted(self.findings.items())
        ]
        parts += [f"{kind} x{count} that cannot be scanned"
                  for kind, count in sorted(self.unscannable.items())]
        return "; ".join(parts)


class EgressGuard:
    """Scans outgoing bodies; built once in `create_app` with the classifier's detectors."""

    def __init__(self, extra_detectors: Sequence[ExtraDetector] = ()) -> None:
        self.extra_detectors = tuple(extra_detectors)

    def check(
        self, body: Mapping[str, Any], *, unscannable_local: bool
    ) -> EgressRefusal | None:
        """A refusal when `body` holds anything sensitive, or (when `unscannable_local`, the
        route's ``unscannable: local``) content that cannot be scanned; None when it may go."""
        scan = scan_body(body, self.extra_detectors)
        sensitive = scan.level is not Sensitivity.NONE
        unscannable = dict(scan.unscannable)
        token_inputs = token_id_inputs(body.get("input"))
        if token_inputs:
            # Embedding input as token ids is text the guard cannot read: never external.
            unscannable[TOKEN_IDS] = token_inputs
        blocked_unscannable = bool(token_inputs) or (
            unscannable_local and any(unscannable.values()))
        if not sensitive and not blocked_unscannable:
            return None
        return EgressRefusal(
            findings=dict(scan.findings) if sensitive else {},
            fields=dict(scan.fields) if sensitive else {},
            unscannable=unscannable if blocked_unscannable else {},
        )


def token_id_inputs(value: Any) -> int:
    """How many embedding inputs in `value` (a body's ``input``) are token ids, not text."""
    if not isinstance(value, list) or not value:
        return 0
    if all(isinstance(x, int) for x in value):
        return 1
    return sum(1 for item in value if isinstance(item, list) and item
               and any(isinstance(x, int) for x in item))
