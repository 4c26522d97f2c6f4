"""Least-outstanding-requests choice among one model's endpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager


class EndpointBalancer:
    """Counts in-flight requests per endpoint and picks the least busy healthy one.

    `load` (from the capacity probe) ranks endpoints by their reported queue when known; the
    local in-flight count breaks ties and covers endpoints the probe has not seen yet.
    """

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._turn = 0

    def pick(
        self,
        endpoints: Sequence[str],
        exclude: frozenset[str] = frozenset(),
        load: Callable[[str], tuple[float, ...] | None] | None = None,
    ) -> str | None:
        choices = [e for e in endpoints if e not in exclude]
        if not choices:
            return None
        if len(choices) == 1:
            return choices[0]
        self._turn += 1
        turn = self._turn

        def key(item: tuple[int, str]) -> tuple[object, ...]:
            index, endpoint = item
            probed = load(endpoint) if load is not None else None
            return (
                probed if probed is not None else (0.0,),
                self._in_flight.get(endpoint, 0),
                (index - turn) % len(choices),
            )

        return min(enumerate(choices), key=key)[1]

    @contextmanager
    def track(self, endpoint: str) -> Iterator[None]:
        self._in_flight[endpoint] = self._in_flight.get(endpoint, 0) + 1
        try:
            yield
        finally:
            self._in_flight[endpoint] -= 1

    def in_flight(self, endpoint: str) -> int:
        return self._in_flight.get(endpoint, 0)
