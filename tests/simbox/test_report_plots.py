"""The report's SVG plots: their numbers against matplotlib's and numpy's, what they draw, and
that drawing them imports no plotting library."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from simbox.report_plots import (COMPARED_FEATURES, SCORE_BINS, Scale, box_stats, feature_plot,
                                 histogram, hours_plot, nice_ticks, score_plot)

NS = {"s": "http://www.w3.org/2000/svg"}
values = arrays(np.float64, st.integers(0, 60),
                elements=st.one_of(st.floats(-1e6, 1e6, allow_nan=False),
                                   st.sampled_from([0.0, 1.0, 5.0, np.nan])))


@settings(max_examples=300, deadline=None)
@given(values)
def test_box_stats_are_matplotlibs(v):
    from matplotlib.cbook import boxplot_stats
    got = box_stats(v)
    finite = v[np.isfinite(v)]
    if not len(finite):
        assert got is None
        return
    ref = boxplot_stats(finite, whis=1.5)[0]
    for ours, theirs in (("q1", "q1"), ("med", "med"), ("q3", "q3"), ("lo", "whislo"),
                         ("hi", "whishi")):
        assert got[ours] == pytest.approx(float(ref[theirs]), rel=1e-12, abs=1e-9), ours
    assert got["n"] == len(finite)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 200),
              elements=st.one_of(st.floats(-0.5, 1.5), st.just(1.0), st.just(np.nan))))
def test_histogram_counts_each_finite_value_in_range_once(v):
    counts = histogram(v)
    ref = [0] * SCORE_BINS
    for x in v:
        if np.isfinite(x) and 0.0 <= x <= 1.0:
            ref[min(int(x * SCORE_BINS), SCORE_BINS - 1)] += 1
    # numpy's edges are linspace's: a value on an edge may fall either side of int(x * 50)
    assert counts.sum() == sum(ref)
    assert np.abs(np.cumsum(counts) - np.cumsum(ref)).max(initial=0) <= \
        sum(1 for x in v if np.isfinite(x) and abs(x * SCORE_BINS - round(x * SCORE_BINS)) < 1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e7, 1e7), st.floats(1e-6, 1e7))
def test_nice_ticks_are_round_and_cover_the_range(lo, span):
    assume(span > 1e-4 * max(1.0, abs(lo)))        # a plot's range, not rounding noise
    hi = lo + span
    t = nice_ticks(lo, hi)
    assert 2 <= len(t) <= 7
    step = t[1] - t[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6
    eps = 1e-6 * step                # (within a millionth of a step: the same pixel)
    assert lo - eps <= t[0] < lo + step and hi - step < t[-1] <= hi + eps


def test_symlog_is_matplotlibs():
    from matplotlib.scale import SymmetricalLogTransform
    ref = SymmetricalLogTransform(10, 1.0, 1.0)
    x = np.array([-500, -3, -1, -0.5, 0, 0.3, 1, 2, 10, 99, 1e5])
    s = Scale("symlog", 0.0, 1.0, 0.0, 1.0)      # pixels = the transform itself
    assert np.allclose(s._t(x), ref.transform(x))


def _svg(text):
    return ET.fromstring(text)


def test_score_plot_draws_each_bin_with_its_count():
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.beta(0.5, 8, 5000), rng.uniform(0.8, 1.0, 40), [np.nan]])
    classes = np.where(np.arange(len(scores)) % 2 == 0, "simbox", "cardfarm").astype(object)
    svg = _svg(score_plot(pd.Series(scores), pd.Series(classes), 0.8))
    titles = [t.text for t in svg.iterfind(".//s:rect/s:title", NS)]
    counted = {}
    for t in titles:
        m = re.match(r"(.+): ([\d,]+) SIM\(s\) scored (\d\.\d\d)-(\d\.\d\d)$", t)
        assert m, t
        counted[(m[1], m[3])] = int(m[2].replace(",", ""))
    finite = np.isfinite(scores)
    assert sum(counted.values()) == finite.sum()
    flagged = finite & (scores >= 0.8)
    assert sum(v for (k, _), v in counted.items() if k == "not flagged") == (finite & ~flagged).sum()
    assert sum(v for (k, _), v in counted.items() if k == "flagged simbox") == \
        (flagged & (classes == "simbox")).sum()
    # taller bars for larger counts (a log scale, but monotonic)
    bars = [(int(r.find("s:title", NS).text.split(": ")[1].split(" ")[0].replace(",", "")),
             float(r.get("height"))) for r in svg.iterfind(".//s:rect[s:title]", NS)]
    bars.sort()
    assert all(h1 <= h2 + 1e-9 for (_, h1), (_, h2) in zip(bars, bars[1:]))
    assert "threshold 0.80" in "".join(svg.itertext())


def test_score_plot_without_threshold_or_scores():
    svg = _svg(score_plot(pd.Series([], dtype=float), pd.Series([], dtype=object), None))
    assert svg.find(".//s:rect/s:title", NS) is None
    assert "threshold" not in "".join(svg.itertext())


def test_hours_plot_escapes_labels_and_follows_the_profile():
    deps = pd.DataFrame({"deployment_id": ["<D1>", "D2", "D3"], "class": ["simbox", "cardfarm", "x"],
                         "n_sims": [3, 2, 1]})
    prof = np.zeros(24)
    prof[[2, 3]] = [1, 3]
    text = hours_plot(deps, {"<D1>": prof, "D2": np.ones(24)}, np.arange(24.0))
    assert "<D1>" not in text and "&lt;D1&gt;" in text
    svg = _svg(text)
    lines = {p.find("s:title", NS).text.split(":")[0]: p for p in svg.iterfind(".//s:path[s:title]", NS)}
    assert set(lines) == {"all SIMs", "<D1> (simbox, 3 SIMs)", "D2 (cardfarm, 2 SIMs)"}   # D3: no profile
    assert "03h 75.0%" in lines["<D1> (simbox, 3 SIMs)"].find("s:title", NS).text
    # the step at 3h is the highest point of the line (SVG y grows downwards)
    d = lines["<D1> (simbox, 3 SIMs)"].get("d")
    ys = [float(v) for v in re.findall(r"V([\d.]+)", d)]
    assert min(ys) == ys[2]          # V to hour 1, 2, 3: the third is hour 3's level


def test_feature_plot_boxes_sit_at_their_quartiles():
    name = COMPARED_FEATURES[0][0]
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(0, 10, 300), rng.integers(20, 40, 30)]).astype(float)
    feats = pd.DataFrame({name: v})
    flagged = pd.Series(np.arange(len(v)) >= 300)
    svg = _svg(feature_plot(feats, flagged))
    groups = list(svg.iterfind(".//s:g[s:title]", NS))
    assert len(groups) == 2
    titles = [g.find("s:title", NS).text for g in groups]
    assert titles[0].startswith("others (300 SIMs)") and titles[1].startswith("flagged (30 SIMs)")
    (ox, ow), (fx, fw) = [(float(g.find("s:rect", NS).get("x")), float(g.find("s:rect", NS).get("width")))
                          for g in groups]
    assert ox + ow < fx               # the flagged box lies right of the others' box
    assert feature_plot(pd.DataFrame({"unrelated": [1.0]}), pd.Series([True])) == ""


def test_feature_plot_with_an_empty_group_draws_the_other():
    name = COMPARED_FEATURES[0][0]
    svg = _svg(feature_plot(pd.DataFrame({name: [1.0, 2.0, np.nan]}), pd.Series([False, False, True])))
    titles = [g.find("s:title", NS).text for g in svg.iterfind(".//s:g[s:title]", NS)]
    assert len(titles) == 1 and titles[0].startswith("others (2 SIMs)")


def test_the_report_imports_no_plotting_library():
    code = ("import sys, simbox.report, simbox.report_plots; "
            "print(sorted(m for m in ('matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
