"""The status page in a real headless browser (Debian's Chromium driven by Selenium).

Skipped with a reason when Chromium, chromedriver or selenium are missing
(`.ci/run` installs them).
"""

from __future__ import annotations

import asyncio
import shutil
import threading

import pytest

from vngeonet.service.web import StatusServer

STATUS = {
    "caster": "127.0.0.1:2101", "rovers": 3,
    "stations": [
        {"id": "HANO", "name": "Ha Noi (demo)", "up": True, "latency_s": 0.123, "nsat": 27,
         "epochs": 60, "spp_error_m": 1.234, "frames": 444, "crc_failures": 0, "rovers": 2},
        {"id": "CAMA", "name": "Ca Mau (demo)", "up": False, "latency_s": None, "nsat": 0,
         "epochs": 0, "spp_error_m": None, "frames": 0, "crc_failures": 0, "rovers": 0},
    ],
}


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian chromium and chromium-driver are not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=opts)


class _ServerThread:
    """The status server on its own event loop in a thread (the browser blocks this one)."""

    def __init__(self, status):
        self.loop = asyncio.new_event_loop()
        self.srv = StatusServer(lambda: status, port=0)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.srv.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.srv.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_status_page_renders_station_table_with_live_values():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    try:
        with _ServerThread(STATUS) as server:
            browser.set_page_load_timeout(20)
            browser.get(f"http://127.0.0.1:{server.srv.port}/")
            WebDriverWait(browser, 15).until(
                lambda b: len(b.find_elements(By.CSS_SELECTOR, "#stations tbody tr")) == 2)
            rows = browser.find_elements(By.CSS_SELECTOR, "#stations tbody tr")
            hano = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
            cama = [c.text for c in rows[1].find_elements(By.TAG_NAME, "td")]
            assert hano[:5] == ["HANO", "Ha Noi (demo)", "up", "0.12", "27"]
            assert "1.23" in hano
            assert cama[2] == "down"
            assert browser.find_element(By.ID, "rovers").text == "3"
    finally:
        browser.quit()
