"""The HTML report in real headless Chromium (Debian ``chromium`` driven by Playwright).

Checks that the page renders its key parts with no console errors and no network requests,
that clicking a header sorts the leaderboard, that the filter and the flip selector work, and
saves a full-page screenshot under the test's tmp dir.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_report import build_runs

from harness import load_runs
from harness.report import build_report, write_report

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,  # starts a browser
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason="needs Debian chromium (apt-get install chromium)"
    ),
]


def _column(page, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr",
        f"rows => rows.map(r => r.cells[{index}].dataset.value ?? "
        f"r.cells[{index}].textContent.trim())",
    )


def test_report_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "report"
    write_report(build_report(load_runs([build_runs(tmp_path)]), title="Browser board"), out)
    url = (out / "report.html").as_uri()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        problems: list[str] = []
        requests: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        page.wait_for_load_state("load")

        assert page.title() == "Browser board"
        assert page.locator("h1").inner_text() == "Browser board"
        assert page.locator("#leaderboard tbody tr").count() == 3
        assert page.locator("#comparisons tbody tr").count() == 3
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) == 3 and all(w > 300 for w in widths)

        header = page.locator("#leaderboard th", has_text="gsm8k/accuracy")
        header.click()
        asc = [float(v) for v in _column(page, "leaderboard", 1)]
        assert asc == sorted(asc) and len(set(asc)) == 3
        assert "sorted-asc" in (header.get_attribute("class") or "")
        header.click()
        assert [float(v) for v in _column(page, "leaderboard", 1)] == sorted(asc, reverse=True)
        page.locator("#leaderboard th", has_text="model").click()
        labels = _column(page, "leaderboard", 0)
        assert labels == sorted(labels, key=str.lower)

        page.fill("#filter", "gsm8k-lora")
        visible = page.locator("#leaderboard tbody tr:visible")
        assert visible.count() == 1 and "gsm8k-lora" in visible.inner_text()
        page.fill("#filter", "")
        assert page.locator("#leaderboard tbody tr:visible").count() == 3

        # The flips of the first compared metric are open without a click.
        assert page.locator("details.flips").first.get_attribute("open") is not None
        flips = page.locator("details.flips tbody tr:visible")
        assert flips.count() == 17
        page.select_option("details.flips select.flipdir", "right->wrong")
        assert flips.count() == 3
        assert all(t == "right->wrong" for t in flips.locator("td:nth-child(2)").all_inner_texts())

        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert problems == []
    assert all(r.startswith(("file:", "data:")) for r in requests), requests
