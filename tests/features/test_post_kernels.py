"""Numeric neighbours (features/_post.pyx) and TACs of the post-processing against the
numpy and per-string code they replaced (tests/features/post_reference.py)."""
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

from post_reference import reference_device_not_phone, reference_neighbour_counts
from simbox.fastpath.events import decode_array, encode_digits
from simbox.features.post import Context, _groups, device_not_phone, neighbour_counts
from simbox.features.tables import is_phone


@st.composite
def pair_tables(draw):
    """IMSI-IMEI and IMSI-site pairs (distinct) and per-row values: zeros (unknown),
    ties, runs of close values and values of other lengths."""
    n = draw(st.integers(1, 30))
    base = draw(st.sampled_from([10 ** 15, 10 ** 11]))
    values = np.array(draw(st.lists(st.one_of(st.just(0), st.integers(base, base + 40),
                                              st.integers(10 ** 5, 10 ** 5 + 20)),
                                    min_size=n, max_size=n)), np.int64)
    dev = sorted(draw(st.sets(st.tuples(st.integers(0, n - 1),
                                        st.sampled_from([7, 10 ** 15 + 1, 10 ** 17 + 5])),
                              max_size=40)))
    site = sorted(draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(-2, 5)), max_size=60)))
    ns = SimpleNamespace(dev_row=np.array([r for r, _ in dev], np.int64),
                         dev_imei=np.array([k for _, k in dev], np.int64),
                         site_row=np.array([r for r, _ in site], np.int64),
                         site_code=np.array([s for _, s in site], np.int32))
    return ns, values, n


@settings(max_examples=300, deadline=None)
@given(pair_tables(), st.sampled_from([0, 1, 10]))
def test_neighbours_are_the_numpy_reference(tables, distance):
    ns, values, n = tables
    group, rows, count = _groups(ns)
    keys = np.concatenate([ns.dev_imei, -(ns.site_code.astype(np.int64) + 1)])
    want = reference_neighbour_counts(keys, rows, values, n, distance)
    got = neighbour_counts(group, rows, values, n, count, distance)
    assert np.array_equal(got.view(np.int64), want.view(np.int64)), (got, want)


def _context(codes, tac_table):
    n = len(codes)
    empty = np.zeros(0, np.int64)
    return Context(imsi=np.arange(1, n + 1, dtype=np.int64), msisdn=np.zeros(n, np.int64),
                   feats=np.zeros((n, 1)), names=["device_not_phone"], dev_row=empty,
                   dev_imei=empty, site_row=empty, site_code=empty,
                   main_imei_code=np.array(codes, np.int64), main_cell_code=empty,
                   main_site_code=empty, cell_tokens=np.zeros(0, object),
                   site_names=np.zeros(0, object), tac=tac_table, tz=None)


TACS = ["35693803", "01234567", "86000000", "00000000"]
TYPES = ["Smartphone", "IoT module", "Feature phone", "Modem / gateway"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text("0123456789", max_size=18),
                          st.tuples(st.sampled_from(TACS + ["35693804"]),
                                    st.text("0123456789", min_size=5, max_size=10))
                          .map("".join)), max_size=30),
       st.booleans())
def test_tacs_and_device_types_are_the_per_string_reference(imeis, with_table):
    table = dict(zip(TACS, TYPES)) if with_table else None
    ctx = _context([encode_digits(s) for s in imeis], table)
    device_not_phone(ctx)
    tac, dtype, flag = reference_device_not_phone(decode_array(ctx.main_imei_code), table,
                                                  is_phone)
    assert ctx.main_imei.tolist() == imeis
    assert ctx.main_tac.tolist() == tac.tolist() and ctx.device_type.tolist() == dtype.tolist()
    got = ctx.col("device_not_phone")
    assert np.array_equal(got, flag, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([np.nan, 0.0, 0.5, 1.0, 2.0, 1e9, -3.0]), st.booleans()),
                max_size=40))
def test_percentile_rank_is_pandas_rank_pct(rows):
    import pandas as pd
    from simbox.features.post import percentile_rank
    values = np.array([v for v, _ in rows], dtype=float)
    among = np.array([a for _, a in rows], dtype=bool)
    got = percentile_rank(values, among)
    s = pd.Series(values)
    want = s[among].rank(method="average", pct=True).reindex(s.index).to_numpy(dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-12, atol=0)
