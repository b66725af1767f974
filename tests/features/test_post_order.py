"""The one-key sorts of the post-processing equal the lexsorts they replace."""
import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.features.compute import _pair_order
from simbox.features.post import _group_sort


@st.composite
def groups(draw):
    n = draw(st.integers(1, 40))                               # rows (IMSIs)
    values = np.array(draw(st.lists(st.sampled_from([0, 5, 6, 7, 10 ** 15, 10 ** 15 + 3, 2 ** 62]),
                                    min_size=n, max_size=n)), np.int64)   # ties on purpose
    pairs = draw(st.sets(st.tuples(st.sampled_from([-3, -1, 7, 10 ** 17, 135 * 10 ** 14]),
                                   st.integers(0, n - 1)), max_size=80))
    pairs = sorted(pairs)
    pairs = [pairs[i] for i in draw(st.permutations(range(len(pairs))))]   # arbitrary order
    keys = np.array([k for k, _ in pairs], np.int64)
    rows = np.array([r for _, r in pairs], np.int64)
    return keys, rows, values, n


@settings(max_examples=300, deadline=None)
@given(groups(), st.sampled_from([0, 1 << 60]))
def test_group_sort_is_the_lexsort_but_for_ties(g, extra):
    keys, rows, values, n = g
    _, group = np.unique(keys, return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    count = len(set(keys.tolist())) + extra       # + 2**60: no room for one key (lexsort)
    o = np.lexsort((rows, values[rows], keys))
    got_group, got_rows = _group_sort(group, rows, values, n, count)
    # rows of equal value (ties on purpose) may come in another order
    assert np.array_equal(got_group, group[o]) and np.array_equal(values[got_rows], values[rows[o]])
    assert sorted(zip(got_group.tolist(), got_rows.tolist())) == sorted(zip(group.tolist(),
                                                                              rows.tolist()))


@settings(max_examples=300, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=120),
       st.sampled_from([31, 1 << 58]))
def test_pair_order_is_the_lexsort(pairs, nrank):
    pairs = list(pairs)[::-1]
    row = np.array([p[0] for p in pairs], np.int32)
    rank = np.array([p[1] for p in pairs], np.int32)
    # nrank 2**58 overflows one combined key: the lexsort fallback
    assert np.array_equal(_pair_order(row, rank, nrank), np.lexsort((rank, row)))


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 60), max_size=50), st.randoms(use_true_random=False),
       st.sampled_from([31, 1 << 58]), st.booleans())
def test_distinct_rows_are_ordered_without_a_sort(rows, rnd, nrank, repeat):
    """A SIM with one device or one cell (each row once: a card farm's pair tables): the
    rows placed by rank (_distinct_order) equal the lexsorts of the pair tables; a row
    seen twice takes the sort."""
    from simbox.features.compute import _distinct_order
    rows = list(rows)
    rnd.shuffle(rows)
    if repeat and rows:
        rows.append(rows[0])
    row = np.array(rows, dtype=np.int64)
    rank = np.array([rnd.randrange(30) for _ in rows], np.int64)
    if repeat and rows:
        rank[-1] = rank[0] + 1                # (distinct pairs, as the pair tables hold)
    imei = np.array([rnd.choice([3, 10 ** 15, 7]) for _ in rows], np.int64)
    assert np.array_equal(_pair_order(row, rank, nrank), np.lexsort((rank, row)))
    got = _distinct_order(row)
    if repeat and rows:
        assert got is None
    else:
        assert np.array_equal(got, np.lexsort((imei, row)))


@settings(max_examples=300, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=160),
       st.sampled_from([31, 1 << 58]), st.randoms(use_true_random=False), st.booleans())
def test_pair_order_through_a_permutation_is_the_lexsort(pairs, nrank, rnd, grouped):
    """The pair tables' order: by (the row's place in the sorted keys, rank), the kernel's
    rows given with the permutation to those places; the pairs grouped by row (as the kernel
    gives them) or in any order, rows without a pair, rows with one."""
    pairs = sorted(pairs) if grouped else list(pairs)
    if grouped:                        # each row's pairs together, in any order among them
        rnd.shuffle(pairs)
        pairs.sort(key=lambda p: p[0])
    rows = 51
    inv = np.arange(rows, dtype=np.int64)
    rnd.shuffle(inv)
    row = np.array([p[0] for p in pairs], np.int64)
    rank = np.array([p[1] for p in pairs], np.int64)
    want = np.lexsort((rank, inv[row]))
    assert np.array_equal(_pair_order(row, rank, nrank, inv), want)
    assert np.array_equal(_pair_order(row, rank, nrank, inv, placed=inv[row]), want)
