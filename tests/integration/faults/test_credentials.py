"""Credentials in endpoint URLs go upstream and nowhere else: not logs, records or errors."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import httpx
import pytest

from router.server import quiet_http_loggers
from tests.integration.faults.conftest import MESSAGES, GatewayFactory, ask, record_of
from tests.integration.faults.hostile import Hostile, raw
from tests.support.gateway import closed_port_url

SECRET = "pa55-w0rd-xyz"


@pytest.fixture(autouse=True)
def _logging_as_served() -> Iterator[None]:
    """The logging setup `junction serve` applies, undone afterwards."""
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    quiet_http_loggers()
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_userinfo_is_sent_upstream_but_never_shown(
    hostile: Hostile, gateway_for: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = hostile.url.replace("http://", f"http://alice:{SECRET}@") + "/v1?api_key=" + SECRET
    hostile.play(raw(500, b'{"error": {"message": "boom"}}'))
    caplog.set_level(logging.DEBUG)
    with gateway_for(endpoint=endpoint) as gw:
        failed = ask(gw)
        ok = ask(gw)
        records = [record_of(gw, r.headers["x-junction-request-id"]) for r in (failed, ok)]
        explained = httpx.post(gw.v1 + "/route/explain", json={
            "model": "auto", "messages": MESSAGES}, timeout=10).text
    # Upstream got the credentials, as Basic auth and in the query.
    sent = hostile.seen[0]
    assert sent.header("authorization") == "Basic " + base64.b64encode(
        f"alice:{SECRET}".encode()).decode()
    assert f"api_key={SECRET}" in sent.head.decode()
    # Nothing Junction shows carries them.
    shown = [failed.text, ok.text, explained, *(r.model_dump_json() for r in records),
             caplog.text, *failed.headers.values()]
    assert all(SECRET not in text for text in shown)
    assert records[0].attempts[0].endpoint.startswith("http://***@127.0.0.1:")


def test_connect_errors_do_not_print_credentials(
    gateway_for: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = closed_port_url().replace("http://", f"http://bob:{SECRET}@")
    caplog.set_level(logging.DEBUG)
    with gateway_for(endpoint=endpoint, fallbacks="[]") as gw:
        r = ask(gw)
        record = record_of(gw, r.headers["x-junction-request-id"])
    assert r.status_code == 502 and "connect_error" in r.text
    assert SECRET not in r.text + record.model_dump_json() + caplog.text
