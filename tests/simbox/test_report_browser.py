"""report.html in a real browser: headless Chromium over the DevTools protocol.

Checks that the page loads with no console error, no exception and no network
request, and saves a full-page screenshot in the test's tmp folder.  A control
page with an external image and a script proves the check does see both.
Skipped, with the reason, only where /usr/bin/chromium is not installed.
"""
import re

import pytest

from headless_chromium import chromium_missing_reason, open_page
from simbox.report import render_report
from simbox.scan import assemble
from simbox.sites import load_cells

pytestmark = pytest.mark.skipif(chromium_missing_reason() is not None,
                                reason=chromium_missing_reason() or "")


@pytest.fixture(scope="module")
def report_path(network, tmp_path_factory):
    res = assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                   summary={"model": "synthetic"})
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(res), encoding="utf-8")
    return path


def test_report_renders_offline_without_errors(report_path):
    shot = report_path.with_name("report.png")
    run = open_page(report_path, screenshot=shot)
    assert run.loaded
    assert run.title == "simbox scan: shutdown list and sites to raid"
    assert run.errors == []
    assert run.requests == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert run.size[1] > 2000   # the whole page, not only the first screen


def test_browser_check_sees_requests_and_errors(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>control</title></head><body>"
        '<img src="http://192.0.2.1/tile.png">'
        "<script>console.error('boom'); undefined_function();</script></body></html>")
    run = open_page(page)
    assert run.loaded
    assert any("192.0.2.1" in u for u in run.requests)
    assert any("boom" in e for e in run.errors)
    assert any("undefined_function" in e for e in run.errors)


def test_csp_blocks_what_the_report_might_load(tmp_path, report_path):
    """The report's CSP refuses external loads: the browser logs the refusal (and the
    attempt still counts as a request for the check above)."""
    text = report_path.read_text(encoding="utf-8")
    page = tmp_path / "report_with_tile.html"
    page.write_text(re.sub("</body>", '<img src="http://192.0.2.1/tile.png"></body>', text))
    run = open_page(page)
    assert any("Content Security Policy" in e for e in run.errors)
    assert run.requests == ["http://192.0.2.1/tile.png"]
