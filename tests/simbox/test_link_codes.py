"""The grouping's device, device-block and number-block links made on codes (session 20)
against the pandas statements they replaced: ``_device_links_frames`` and
``_device_block_links_frames`` (kept in ``deployments``), and the text version of
``_block_links`` written again here.  Same pairs in the same order."""
import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simbox.deployments import (_block_links, _device_block_links, _device_block_links_frames,
                                _device_links, _device_links_frames, _digits, _pairs, _runs,
                                _stepping_links)


def block_links_texts(numbers, sites, gap, partner=None):
    """Session 19's ``_block_links``: the sites as texts, groups of ``length|site``; the links
    across sites by the function both share."""
    site = sites.astype(str).to_numpy()
    idx, length, value = _digits(numbers)
    if len(idx) < 2:
        return _pairs([], [])
    out = []
    here = site[idx] != ""
    i1, v1 = idx[here], value[here]
    grp = pd.factorize(pd.Series(length[here]).astype(str).to_numpy() + "|" + site[i1])[0]
    order = np.lexsort((v1, grp))
    a, b = _runs(grp[order], v1[order], gap, 2)
    out.append(_pairs(i1[order][a], i1[order][b]))
    if partner is not None:             # (unchanged: the sites compared as texts there)
        out.append(_stepping_links(idx, length, value, site, partner, gap))
    return np.concatenate(out)


def imei_pool(rng, k):
    """IMEIs as a farm's and a town's: runs of consecutive serials under a few type codes,
    14- and 16-digit ones, a check digit apart (one device, two texts), blanks, junk."""
    out = []
    for _ in range(k):
        kind = rng.integers(0, 10)
        tac = ["35000011", "35000012", "86000001"][rng.integers(0, 3)]
        serial = f"{rng.integers(0, 12):06d}"
        if kind < 6:
            out.append(tac + serial + str(rng.integers(0, 10)))
        elif kind == 6:
            out.append(tac + serial + ("" if rng.random() < 0.5 else "12"))
        elif kind == 7:
            out.append("")
        elif kind == 8:
            out.append(["abc", "3500001１000011", "12345"][rng.integers(0, 3)])
        else:
            out.append(tac + serial + "7")
    return out


def tables(seed, n_keys, n_flagged, n_rows, arrow):
    rng = np.random.default_rng(seed)
    keys = [f"46000{i:010d}" for i in rng.permutation(10**6)[:n_keys]]
    imsis = pd.Index(rng.permutation(keys)[:n_flagged], name="imsi", dtype=object)
    cats = pd.CategoricalDtype(pd.Index(rng.permutation(keys), dtype=object))
    pool = imei_pool(rng, max(1, n_rows // 3 + 1))
    imsi = pd.Series(rng.choice(keys, size=n_rows) if n_rows else [], dtype=cats)
    imei = pd.Series([pool[j] for j in rng.integers(0, len(pool), size=n_rows)],
                     dtype="string[pyarrow]" if arrow else object)
    devices = pd.DataFrame({"imsi": imsi, "imei": imei})
    return imsis, pd.concat([devices, devices.iloc[: n_rows // 4]], ignore_index=True)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(0, 200), st.booleans(),
       st.integers(1, 3), st.integers(2, 4))
def test_device_links_on_codes_equal_the_pandas_statement(seed, n_keys, n_rows, arrow, gap,
                                                          min_run):
    rng = np.random.default_rng(seed)
    imsis, devices = tables(seed, n_keys, int(rng.integers(0, n_keys + 1)), n_rows, arrow)
    np.testing.assert_array_equal(_device_links(imsis, devices),
                                  _device_links_frames(imsis, devices))
    np.testing.assert_array_equal(_device_block_links(imsis, devices, gap, min_run),
                                  _device_block_links_frames(imsis, devices, gap, min_run))


def test_device_links_of_a_pool_farm_are_stars_and_runs():
    """16 modems with consecutive serials, each carrying 5 SIMs in turn."""
    imsis = pd.Index([f"4600000000{i:05d}" for i in range(80)], dtype=object)
    imei = [f"35000011{i // 5:06d}3" for i in range(80)]
    devices = pd.DataFrame({"imsi": pd.Series(imsis, dtype=pd.CategoricalDtype(imsis)),
                            "imei": pd.Series(imei, dtype="string[pyarrow]")})
    star = _device_links(imsis, devices)
    assert len(star) == 16 * 4 and set(star[:, 0].tolist()) == set(range(0, 80, 5))
    runs = _device_block_links(imsis, devices, 1, 4)
    assert len(runs) == 2 * 15                        # the run of 16 devices; the multi run
    np.testing.assert_array_equal(runs, _device_block_links_frames(imsis, devices, 1, 4))


sites_st = st.lists(st.sampled_from(["S1", "S2", "S10", "", "S٣"]), min_size=0, max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), sites_st, st.sampled_from(["object", "arrow", "missing"]),
       st.integers(1, 3), st.booleans())
# an empty site and a missing one are one "no site" to the stepping links too (CI, session 21)
@example(2, ["S1", "S1", "S1", "", "S1", "S1", "S1", "S1", "S1", "S1", "S1", "S1"], "missing",
         1, True)
def test_number_block_links_on_site_codes_equal_the_text_version(seed, sites, form, gap,
                                                                 with_partner):
    rng = np.random.default_rng(seed)
    n = len(sites)
    base = 460000000000000
    numbers = pd.Series([str(base + int(v)) if rng.random() > 0.1 else ["", "12a", None][i % 3]
                         for i, v in enumerate(rng.integers(0, 12, size=n))], dtype=object)
    partner = pd.Series([str(8613000000000 + int(v)) for v in rng.integers(0, 12, size=n)],
                        dtype=object) if with_partner else None
    s = pd.Series(sites, dtype="string[pyarrow]" if form == "arrow" else object)
    want = s
    if form == "missing" and n:                   # a missing site: no site, as an empty one
        gone = rng.random(n) < 0.2
        s, want = s.where(~gone, None), s.where(~gone, "")
    np.testing.assert_array_equal(_block_links(numbers, s, gap, partner=partner),
                                  block_links_texts(numbers, want, gap, partner=partner))


def test_sites_that_are_not_texts_go_by_their_texts():
    """5 and "5" are one site, as ``astype(str)`` made them."""
    numbers = pd.Series(["460000000000001", "460000000000002", "460000000000003"], dtype=object)
    sites = pd.Series([5, "5", 7], dtype=object)
    np.testing.assert_array_equal(_block_links(numbers, sites, 1),
                                  block_links_texts(numbers, sites, 1))
    assert _block_links(numbers, sites, 1).tolist() == [[0, 1]]
