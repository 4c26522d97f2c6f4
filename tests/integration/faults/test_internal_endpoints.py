"""/metrics, /openapi.json, /docs and /redoc: open by default, token-protected on request."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.faults.conftest import GatewayFactory

PAGES = ["/metrics", "/openapi.json", "/docs", "/redoc"]


@pytest.mark.parametrize("page", PAGES)
def test_open_by_default(gateway_for: GatewayFactory, page: str) -> None:
    with gateway_for() as gw:
        assert httpx.get(gw.url + page).status_code == 200


def test_protected_pages_need_the_admin_token(gateway_for: GatewayFactory) -> None:
    with gateway_for(protect_internal_endpoints=True, admin_token="adm-secret",
                     metrics_token="scrape-secret") as gw:
        for page in PAGES:
            refused = httpx.get(gw.url + page)
            assert refused.status_code == 401, page
            error = refused.json()["error"]
            assert error["code"] == "internal_endpoint_protected"
            assert "JUNCTION_PROTECT_INTERNAL_ENDPOINTS" in error["message"]
            wrong = httpx.get(gw.url + page, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            admin = httpx.get(gw.url + page, headers={"authorization": "Bearer adm-secret"})
            assert admin.status_code == 200, page
        scrape = {"authorization": "Bearer scrape-secret"}
        assert httpx.get(gw.url + "/metrics", headers=scrape).status_code == 200
        assert httpx.get(gw.url + "/openapi.json", headers=scrape).status_code == 401
        schema = httpx.get(gw.url + "/openapi.json",
                           headers={"authorization": "Bearer adm-secret"}).json()
        assert "/v1/chat/completions" in schema["paths"]
        # Serving is untouched.
        assert httpx.get(gw.url + "/health/live").status_code == 200
