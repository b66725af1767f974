import re

import pytest

from simbox.report import html_table, render_report
from simbox.scan import assemble
from simbox.sites import load_cells


@pytest.fixture(scope="module")
def page(network):
    res = assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                   summary={"model": "synthetic"})
    return res, render_report(res)


def test_report_is_self_contained(page):
    _, text = page
    assert "<script" not in text.lower()
    # the only URLs are XML namespaces of inline SVG
    urls = set(re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert re.search(r"""(src|href)=["'](?!data:|#)""", text) is None


def test_report_shows_the_findings(page):
    res, text = page
    # one numbered marker per site on the map, the sites and deployments in tables
    assert text.count('<text x=') >= 2 * len(res.sites)
    for site in res.sites["site_id"]:
        assert f">{site}</td>" in text
    for dep in res.deployments["deployment_id"]:
        assert f">{dep}</td>" in text
    assert ("Visit site <b>S14</b>, 22 Test Road at 31.24000, 121.48004 (within about 42 m): 22 SIMs in "
            "8 devices, simbox, "
            "active 00:00-06:00, 08:00-21:00 (local time).") in text
    # the map, three plots, hour bars per site, and a mini map + hour bars per field sheet
    assert text.count("<svg") == 4 + len(res.sites) + 2 * min(6, len(res.sites))
    assert text.count('<div class="sheet">') == len(res.sites) == 3
    assert "<dt>expect</dt><dd>22 SIMs in 8 devices (22 unknown)</dd>" in text
    assert "400 distinct numbers called" in text


def test_html_table_escapes():
    import pandas as pd
    t = html_table(pd.DataFrame({"site_id": ["<b>x</b>"], "lat": [31.123456789]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in t and ">31.12346<" in t
