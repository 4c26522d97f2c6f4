"""The dashboard in real headless Chromium: sign-in with a session cookie, every page drawn
with data and no console errors, a filter that changes the log, a request's detail, escaping
of attacker-influenced fields, sign-out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from bench.dashboard_records import fill, synthetic_records
from router.store.database import Database, database_url
from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.browser import chromium, console_errors
from tests.support.gateway import Gateway, running_gateway

VIEWER = "viewer-token-0123456789"
TOKENS = [{"name": "dashboard", "token": VIEWER, "role": "viewer"}]
HOSTILE = '<img src=x id=injected onerror="document.title=1">'
CHART_PAGES = {"traffic": 4, "money": 2, "speed": 2, "protection": 2, "quality": 1}


@pytest.fixture
def gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    text = policy_text(vllm_url, api_url) + "reporting: {reference_model: api}\n"
    with running_gateway(text, tmp_path, ENV, admin_tokens=TOKENS) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="unused", max_retries=0)
        client.chat.completions.create(model="auto",
                                       messages=[{"role": "user", "content": "hello"}])
        records = synthetic_records(600, 3000)
        records[-1] = records[-1].model_copy(update={"team": HOSTILE, "route": HOSTILE})
        db = Database(database_url(None, gw.app.state.settings.data_dir))

        async def insert() -> None:
            try:
                await fill(db, records)
            finally:
                await db.aclose()

        asyncio.run(insert())
        yield gw


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


def wait(driver: webdriver.Chrome, css: str, timeout: float = 15.0) -> None:
    WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def sign_in(driver: webdriver.Chrome, gw: Gateway, token: str) -> None:
    driver.get(gw.url + "/dashboard/traffic")
    wait(driver, "#token")
    assert driver.current_url.endswith("/dashboard/sign-in")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()


def rows(driver: webdriver.Chrome) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#request-table td.task")]


def test_sign_in_pages_filters_detail_and_sign_out(gateway: Gateway,
                                                   browser: webdriver.Chrome) -> None:
    sign_in(browser, gateway, "not-the-token-0123456789")
    wait(browser, "#sign-in-error")
    # The refused sign-in is a 401, which the browser logs; nothing else may be there.
    assert [e for e in console_errors(browser) if "401" not in e] == []
    sign_in(browser, gateway, VIEWER)
    wait(browser, "body[data-charts-ready]")
    cookie = browser.get_cookie("junction_dashboard")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    for page, charts in CHART_PAGES.items():
        browser.get(f"{gateway.url}/dashboard/{page}?range=1h&refresh=0")
        wait(browser, "body[data-charts-ready]")
        drawn = browser.find_elements(By.CSS_SELECTOR, "canvas[data-drawn]")
        assert len(drawn) == charts, page
        assert all(int(c.get_attribute("data-drawn") or 0) >= 1 for c in drawn), page
        # Chart.js drew pixels: the canvas is sized and not blank.
        assert all(browser.execute_script(
            "const c = arguments[0]; const d = c.getContext('2d').getImageData("
            "0, 0, c.width, c.height).data; return c.width > 0 && d.some(v => v !== 0);", c)
            for c in drawn), page
        assert len(browser.find_elements(By.CSS_SELECTOR, "table tr")) > 3, page
        assert console_errors(browser) == [], page
        assert browser.find_elements(By.ID, "injected") == [], page
        if page == "protection":
            assert int(browser.find_element(By.ID, "sensitive").text) > 0
            assert browser.find_element(By.ID, "sent-outside").text == "0"

    # The range and refresh selectors apply on change; refresh is a meta refresh.
    browser.get(gateway.url + "/dashboard/traffic")
    wait(browser, "body[data-charts-ready]")
    refresh = browser.find_element(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
    assert refresh.get_attribute("content") == "30"
    Select(browser.find_element(By.ID, "range")).select_by_value("6h")
    WebDriverWait(browser, 15).until(lambda d: "range=6h" in d.current_url)
    wait(browser, "body[data-charts-ready]")
    assert console_errors(browser) == []

    browser.get(gateway.url + "/dashboard/requests?range=1h&refresh=0")
    wait(browser, "#request-table tr.row")
    everything = rows(browser)
    assert len(set(everything)) > 1
    assert HOSTILE in browser.find_element(By.ID, "request-table").text
    assert browser.find_elements(By.ID, "injected") == []
    field = browser.find_element(By.ID, "filter-task")
    field.send_keys("code")
    field.submit()
    WebDriverWait(browser, 15).until(lambda d: "task=code" in d.current_url)
    wait(browser, "#request-table tr.row")
    filtered = rows(browser)
    assert filtered and set(filtered) == {"code"} and filtered != everything

    browser.find_element(By.CSS_SELECTOR, "#request-table tr.row a").click()
    wait(browser, "#decision-table")
    assert browser.find_elements(By.CSS_SELECTOR, "#attempt-table tr")
    assert browser.find_element(By.ID, "no-content").text.startswith("Not logged")
    assert console_errors(browser) == []

    browser.find_element(By.CSS_SELECTOR, ".signout button").click()
    wait(browser, "#token")
    browser.get(gateway.url + "/dashboard/money")
    wait(browser, "#token")
    assert browser.current_url.endswith("/dashboard/sign-in")
    assert browser.title.startswith("Junction")
