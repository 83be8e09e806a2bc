"""The web page of `styleforge serve` in a real headless browser (Debian's Chromium + chromedriver, Selenium):
load the page, pick a model and a style, upload a photo, wait, and read the result image back — its pixels must
equal the API's answer for the same file. Skipped, with the reason, where no browser or driver is installed
(.ci/run installs them: apt-get install chromium chromium-driver)."""
from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (dev extra)")

from PIL import Image  # noqa: E402

from styleforge.runtime.serve.launch import running_server  # noqa: E402
from toy_bundles import write_stylizer  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)")

READ_CANVAS = """
const img = document.getElementById('result');
const c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext('2d');
ctx.drawImage(img, 0, 0);
const d = ctx.getImageData(0, 0, c.width, c.height).data;
let s = '';
for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
return [c.width, c.height, btoa(s)];
"""


def _driver(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", f"--user-data-dir={profile}", "--window-size=1200,900"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium Manager never tries to download one
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def test_page_uploads_a_photo_and_shows_the_result(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    bundle = write_stylizer(tmp_path / "toy.sfbundle")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(photo)
    with running_server(bundle, log=tmp_path / "server.log") as (base, _):
        driver = _driver(tmp_path / "profile")
        try:
            driver.get(base + "/")
            wait = WebDriverWait(driver, 60, poll_frequency=0.1)
            wait.until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
            Select(driver.find_element(By.ID, "model")).select_by_value("toy")
            Select(driver.find_element(By.ID, "style")).select_by_value("1")
            driver.find_element(By.ID, "photo").send_keys(str(photo))
            driver.find_element(By.ID, "go").click()
            wait.until(EC.text_to_be_present_in_element_attribute((By.ID, "status"), "data-state", "done"))
            w, h, b64 = driver.execute_script(READ_CANVAS)
            severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        finally:
            driver.quit()
        api = httpx.post(base + "/v1/models/toy/stylize", params={"style_index": 1}, content=photo.read_bytes(),
                         headers={"Content-Type": "image/png"}, timeout=60)
    ref = np.asarray(Image.open(io.BytesIO(api.content)).convert("RGB"))
    rgba = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(h, w, 4)
    assert (w, h) == (128, 96)
    assert np.array_equal(rgba[..., :3], ref), "the page shows other pixels than the API returns"
    assert not severe, severe
