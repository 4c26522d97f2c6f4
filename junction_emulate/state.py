"""What one emulator instance remembers: its behaviour, its queue, its faults, what it received."""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from junction_emulate.admission import AdmissionGate
from junction_emulate.behaviour import EmulatorBehaviour


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator received it, for tests to assert on."""

    method: str
    path: str
    headers: Mapping[str, str]
    # The parsed JSON body, or the raw text when it was not JSON.
    body: Any

    def as_json(self) -> dict[str, Any]:
        """The record as GET /_emulator/requests returns it."""
        return {
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.body,
        }


class RequestRecorder:
    """Counts every generation request and keeps the most recent ones (bounded)."""

    def __init__(self, limit: int) -> None:
        self.count = 0
        self.recent: deque[RecordedRequest] = deque(maxlen=limit)

    def record(self, entry: RecordedRequest) -> None:
        """Remember one request."""
        self.count += 1
        self.recent.append(entry)

    def resize(self, limit: int) -> None:
        """Keep at most `limit` requests from now on."""
        if limit != self.recent.maxlen:
            self.recent = deque(self.recent, maxlen=limit)

    def clear(self) -> None:
        """Forget everything, including the count."""
        self.count = 0
        self.recent.clear()


class EmulatorState:
    """The live state behind one emulator app; lives on `app.state` for in-process tests."""

    def __init__(self, behaviour: EmulatorBehaviour) -> None:
        self._behaviour = behaviour
        self.gate = AdmissionGate(behaviour.max_concurrency)
        self.recorder = RequestRecorder(behaviour.record_limit)
        # Requests received and not yet answered, queued ones included (vLLM's /load).
        self.in_flight = 0
        self._faults = random.Random(behaviour.seed)
        # IDs draw from their own generator so they never shift the seeded fault sequence.
        self._ids = random.Random()

    @property
    def behaviour(self) -> EmulatorBehaviour:
        """The current behaviour; read it once per request for a consistent snapshot."""
        return self._behaviour

    def configure(self, changes: Mapping[str, Any]) -> EmulatorBehaviour:
        """Apply a partial change (validated; ValueError says what is wrong).

        Call it on the server's event loop, as POST /_emulator/config does; from another
        thread (a test's), use that endpoint.
        """
        previous = self._behaviour
        current = previous.changed(changes)
        self._behaviour = current
        self.gate.set_limit(current.max_concurrency)
        self.recorder.resize(current.record_limit)
        if "seed" in changes:
            self._faults.seed(current.seed)
        return current

    def should_fail(self) -> bool:
        """Whether this request gets the injected error: fail_next first, then error_rate."""
        behaviour = self._behaviour
        if behaviour.fail_next > 0:
            self._behaviour = dataclasses.replace(behaviour, fail_next=behaviour.fail_next - 1)
            return True
        return behaviour.error_rate > 0 and self._faults.random() < behaviour.error_rate

    def new_id(self, prefix: str, hex_digits: int = 24) -> str:
        """A random, provider-looking identifier such as chatcmpl-3f2a…"""
        return f"{prefix}{self._ids.getrandbits(hex_digits * 4):0{hex_digits}x}"
