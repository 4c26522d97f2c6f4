"""One PNG per dashboard page, from real headless Chromium, for the README.

    .venv/bin/python -m bench.dashboard_screenshots [--out docs/dashboard] [--records 20000]

Serves a real gateway whose store holds synthetic records over the last 24 hours (see
`bench.dashboard_records`), signs in through the sign-in page and saves each page, and one
request's detail, as `<page>.png`. Needs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bench.dashboard_records import TOKEN, dashboard_gateway, synthetic_records

PAGES = ("traffic", "money", "speed", "protection", "quality", "requests")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,1100", "--hide-scrollbars")


def browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"),
                            options=options)


def ready(driver: webdriver.Chrome, css: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard"))
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, dashboard_gateway(
            synthetic_records(args.records, 86400), Path(tmp)) as url:
        driver = browser(str(Path(tmp) / "profile"))
        try:
            driver.get(url + "/dashboard/sign-in")
            driver.find_element(By.ID, "token").send_keys(TOKEN)
            driver.find_element(By.ID, "sign-in").click()
            ready(driver, "body[data-charts-ready]")
            for page in PAGES:
                driver.get(f"{url}/dashboard/{page}?range=24h&refresh=0")
                ready(driver, "body[data-charts-ready]")
                driver.save_screenshot(str(args.out / f"{page}.png"))
                print("wrote", args.out / f"{page}.png")
            driver.find_element(By.CSS_SELECTOR, "#request-table tr.row a").click()
            ready(driver, "#decision-table")
            driver.save_screenshot(str(args.out / "request.png"))
            print("wrote", args.out / "request.png")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
