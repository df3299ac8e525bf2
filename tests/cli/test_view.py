"""``harness view`` in real headless Chromium: real runs (fake backend through ``harness run``),
the run list and its filter, a run's metrics, the sample browser (filter, open a sample), the
paired diff of two runs, no console errors and no request leaving 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli_helpers import invoke

from harness.view import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
def runs(tmp_path: Path, data_dir: Path, script: Path, adapter: Path) -> Path:
    """gsm8k base + ``tuned`` on 3 items and a viggo base run, in tmp_path/runs."""
    common = ["--backend", "fake", "--model", str(script), "--data-dir", str(data_dir),
              "-o", str(tmp_path / "runs"), "--no-cache"]  # fmt: skip
    gsm = invoke(["run", "--task", "gsm8k", "--limit", "3", "--adapter", str(adapter), "--base",
                  *common])  # fmt: skip
    assert gsm.exit_code == 0, gsm.output
    assert invoke(["run", "--task", "viggo", "--limit", "2", *common]).exit_code == 0
    return tmp_path / "runs"


@pytest.fixture
def url(runs: Path) -> Iterator[str]:
    server = make_server([runs])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert server.server_address[0] == "127.0.0.1"  # never reachable from elsewhere
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_api_serves_runs_and_refuses_unknown_ids(url: str) -> None:
    with urllib.request.urlopen(url + "api/runs") as r:
        runs = json.load(r)
    assert sorted(r["task"] for r in runs) == ["gsm8k", "gsm8k", "viggo"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "api/run/nope")
    assert e.value.code == 404 and json.load(e.value) == {"error": "no run 'nope'"}


@pytest.mark.slow  # starts a browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="needs Debian chromium")
def test_view_in_chromium(url: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        problems: list[str] = []
        foreign: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(url) else foreign.append(r.url))
        page.goto(url)
        page.wait_for_selector("#runs tbody tr")
        assert page.title() == "harness view"
        assert page.locator("#runs tbody tr").count() == 3
        assert page.inner_text("#count") == "3 runs"

        page.fill("#filter", "viggo")
        assert page.locator("#runs tbody tr:visible").count() == 1
        page.fill("#filter", "tuned")
        assert page.locator("#runs tbody tr:visible").count() == 1
        page.locator("#runs tbody tr:visible td").nth(2).click()  # open the tuned run
        page.wait_for_selector("#metrics tbody tr")
        assert "fake:answers + tuned" in page.inner_text("#run-info")
        assert "strict_match" in page.inner_text("#metrics")
        assert page.inner_text("#sample-count") == "3 of 3 samples"
        page.select_option("#score-filter", "wrong")
        assert page.inner_text("#sample-count") == "1 of 3 samples"
        page.select_option("#score-filter", "")
        page.fill("#sample-filter", "bolts")
        assert page.locator("#samples tbody tr").count() == 1
        page.locator("#samples tbody tr").first.click()
        sample = page.inner_text("#sample")
        assert "2 + 1 = 3 bolts. #### 3" in sample and "extraction" in sample
        assert "A robe takes 2 bolts" in sample  # the prompt

        page.fill("#filter", "gsm8k")
        boxes = page.locator("#runs tbody tr:visible input[type=checkbox]")
        assert boxes.count() == 2 and page.is_disabled("#diff")
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.click("#diff")
        page.wait_for_selector("#diffs tbody tr")
        assert page.locator("#diffs tbody tr").count() == 1
        assert "3 paired items, 2 equal" in page.inner_text("#diff-summary")
        diff_address = page.url
        assert diff_address.startswith(url + "diff/") and diff_address.count("/") == 5
        page.screenshot(path=str(tmp_path / "view.png"), full_page=True)

        # Every view has an address that loads directly (a bookmark, a link in a review).
        tuned_id = next(r for r in _ids(url) if "tuned" in r)
        fresh = browser.new_page(viewport={"width": 1300, "height": 900})
        fresh.on("pageerror", lambda e: problems.append(str(e)))
        fresh.goto(url + "runs/" + tuned_id)
        fresh.wait_for_selector("#metrics tbody tr")
        assert fresh.inner_text("#run h2") == tuned_id
        assert fresh.inner_text("#sample-count") == "3 of 3 samples"
        fresh.goto(diff_address)
        fresh.wait_for_selector("#diffs tbody tr")
        assert "3 paired items, 2 equal" in fresh.inner_text("#diff-summary")
        fresh.go_back()  # history: back to the run
        fresh.wait_for_selector("#run:not(.hidden)")
        assert fresh.inner_text("#run h2") == tuned_id
        fresh.goto(url + "report")
        assert fresh.title() == "harness leaderboard"
        assert fresh.locator("img").count() >= 1  # the inline plots are allowed by its CSP
        assert all(fresh.locator("img").nth(i).evaluate("i => i.naturalWidth > 0")
                   for i in range(fresh.locator("img").count()))  # fmt: skip
        browser.close()
    assert problems == [] and foreign == []


def _ids(url: str) -> list[str]:
    with urllib.request.urlopen(url + "api/runs") as r:
        return [run["id"] for run in json.load(r)]


def test_runs_diffs_and_the_report_have_addresses(url: str) -> None:
    a, b = sorted(i for i in _ids(url) if "gsm8k" in i)
    for path in (f"runs/{a}", f"diff/{a}/{b}", ""):
        with urllib.request.urlopen(url + path) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
            assert b"<title>harness view</title>" in r.read()
    with urllib.request.urlopen(url + "report") as r:
        page = r.read().decode()
        assert "img-src data:" in r.headers["Content-Security-Policy"]
    assert "<title>harness leaderboard</title>" in page and "fake:answers + tuned" in page
    for missing in ("runs/nope", f"diff/{a}/nope"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + missing)
        assert e.value.code == 404 and json.load(e.value) == {"error": "no run 'nope'"}


def test_view_of_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = invoke(["view", str(tmp_path / "nope")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: {tmp_path / 'nope'}: no such folder; pass folders holding runs\n"
    )
