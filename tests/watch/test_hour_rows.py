"""The rows of an hour made from the files' columns (window.hour_rows) against the files'
rows cut out of each file and concatenated (the path it replaced)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.fastpath.events import COLUMNS
from simbox.watch.store import SLICE_DTYPE
from simbox.watch.window import hour_rows


def _columns(n, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.integers(-5, 1000, n).astype(dtype) for name, dtype in COLUMNS}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.integers(0, 2**32 - 1)),
                max_size=5))
def test_hour_rows_are_the_files_rows_one_after_the_other(files):
    got, want = [], []
    for i, (n, some, seed) in enumerate(files):
        cols = _columns(n, seed)
        sel = np.flatnonzero(np.random.default_rng(seed).random(n) < 0.5) if some else None
        got.append((i, cols, sel))
        rows = np.empty(n, SLICE_DTYPE)
        for name in SLICE_DTYPE.names:
            rows[name] = cols[name]
        want.append(rows if sel is None else rows[sel])
    rows, sizes = hour_rows(got)
    assert rows.dtype == SLICE_DTYPE
    assert sizes == [len(w) for w in want]
    assert np.array_equal(rows, np.concatenate([np.empty(0, SLICE_DTYPE), *want]))
