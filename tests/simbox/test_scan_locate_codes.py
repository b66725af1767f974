"""``sites.locate`` on the codes of the feature run's pair tables (``_located_codes``)
against pandas' groupbys of the events' rows (``_locate_frames``, the code it replaced):
the same table, values, dtypes and order, bit for bit."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox import sites

LAT0, LON0 = 48.85, 2.35


def network(seed, n_sims, n_cells, spread, kind):
    rng = np.random.default_rng(seed)
    # masts: a few within 3 km of each other, some far (spread), several cells per mast
    n_masts = max(1, n_cells // 2)
    step = rng.choice([0.001, 0.01, 0.05], size=n_masts) * (1 + 9 * spread)
    mlat = LAT0 + np.cumsum(step) * rng.choice([-1, 1], size=n_masts)
    mlon = LON0 + np.cumsum(step[::-1]) * rng.choice([-1, 1], size=n_masts)
    mast = rng.integers(0, n_masts, size=n_cells)
    lat, lon = mlat[mast], mlon[mast]
    if n_cells > 2:
        lat[rng.integers(0, n_cells)] = np.nan          # a cell without coordinates
    ids = [f"c{i:03d}" for i in range(n_cells)]
    cells = pd.DataFrame({"site_id": [f"S{m}" for m in mast], "lat": lat, "lon": lon},
                         index=pd.Index(ids, name="cell_id", dtype=object))
    keys = pd.Index([f"{i:015d}" for i in range(n_sims)], name="imsi", dtype=object)
    tokens = pd.Index(ids + ["unknown-1", "unknown-2"], dtype=object)
    rows = []
    for s in range(n_sims):
        k = int(rng.integers(0, 4))
        for c in sorted(rng.choice(len(tokens), size=k, replace=False).tolist()):
            rows.append((s, c, int(rng.choice([0, 1, 3, 7, 40, 1000]))))
    s_, c_, e_ = (np.array(x, dtype=np.int64) for x in zip(*rows)) if rows else \
        (np.zeros(0, np.int64),) * 3
    ev = pd.DataFrame({"imsi": pd.Categorical.from_codes(s_, dtype=pd.CategoricalDtype(keys)),
                       "cell_id": pd.Categorical.from_codes(c_, categories=tokens),
                       "events": e_})
    flagged = np.flatnonzero(rng.random(n_sims) < rng.uniform(0.2, 1.0))
    n_groups = int(rng.integers(1, max(2, len(flagged) + 1)))
    g = rng.integers(0, n_groups, size=len(flagged))
    values = g.astype(np.int64) if kind == "int" else \
        pd.array([f"S{x:05d}" for x in g], dtype="str") if kind == "str" else \
        np.array([f"S{x:05d}" for x in g], dtype=object)
    return pd.Series(values, index=keys[flagged]), ev, cells


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_sims=st.integers(0, 40), n_cells=st.integers(1, 12),
       spread=st.booleans(), kind=st.sampled_from(["int", "str", "object"]))
def test_located_on_codes_as_by_groupbys(seed, n_sims, n_cells, spread, kind):
    groups, ev, cells = network(seed, n_sims, n_cells, spread, kind)
    want = sites._locate_frames(groups, ev, cells)
    got = sites.locate(groups, ev, cells)
    assert sites._located_codes(groups, ev, cells, sites.CLUSTER_M) is not None
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert [type(k) for k in got.index] == [type(k) for k in want.index]


def test_one_group_of_many_sims_at_one_cell():
    """A card farm: every SIM at one cell, one group (a deployment or a site)."""
    n = 5000
    keys = pd.Index([f"{i:015d}" for i in range(n)], name="imsi", dtype=object)
    cells = pd.DataFrame({"site_id": ["S0", "S0"], "lat": [LAT0, LAT0], "lon": [-0.0, LON0]},
                         index=pd.Index(["c0", "c1"], name="cell_id", dtype=object))
    ev = pd.DataFrame({"imsi": pd.Categorical.from_codes(np.arange(n),
                                                         dtype=pd.CategoricalDtype(keys)),
                       "cell_id": pd.Categorical.from_codes(np.zeros(n, np.int64),
                                                            categories=["c0", "c1"]),
                       "events": np.full(n, 30)})
    for groups in (pd.Series(np.zeros(n, np.int64), index=keys),
                   pd.Series(pd.array(["S0"] * n, dtype="str"), index=keys)):
        got = sites.locate(groups, ev, cells)
        pd.testing.assert_frame_equal(got, sites._locate_frames(groups, ev, cells),
                                      check_exact=True)
        assert got.iloc[0]["events"] == 30 * n and got.iloc[0]["cells"] == "c0"


def test_other_inputs_take_the_groupbys():
    groups, ev, cells = network(1, 20, 5, False, "str")
    plain = ev.assign(imsi=ev["imsi"].astype(object), cell_id=ev["cell_id"].astype(object))
    assert sites._located_codes(groups, plain, cells, sites.CLUSTER_M) is None
    pd.testing.assert_frame_equal(sites.locate(groups, plain, cells),
                                  sites._locate_frames(groups, ev, cells), check_exact=True)
