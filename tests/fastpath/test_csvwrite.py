"""The CSV row kernel against the standard library's csv writer (the reference)."""
import csv
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import csvwrite
from simbox.fastpath.csvwrite import BOOL, FLOAT, INT, TEXT, csv_chunks

TEXT_VALUES = st.text(alphabet=st.sampled_from(list('ab,"\n\t =é日;1.\'')), max_size=6)
FLOATS = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 0.1235, 1e-7, 5e-324, 1e300]))


def reference(columns, kinds):
    texts = []
    for c, k in zip(columns, kinds):
        if k == FLOAT:
            texts.append(["%.10g" % v if v == v else "" for v in c.tolist()])
        elif k in (INT, BOOL):
            texts.append([str(v) for v in (c.astype(bool) if k == BOOL else c).tolist()])
        else:
            texts.append(c)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(zip(*texts))
    return out.getvalue().encode("utf-8")


@st.composite
def tables(draw):
    n = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from([TEXT, FLOAT, INT, BOOL]), min_size=1, max_size=5))
    cols = []
    for k in kinds:
        if k == FLOAT:
            cols.append(np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float))
        elif k == INT:
            cols.append(np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n,
                                               max_size=n)), dtype=np.int64))
        elif k == BOOL:
            cols.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                                 dtype=bool).view(np.uint8))
        else:
            cols.append(draw(st.lists(TEXT_VALUES, min_size=n, max_size=n)))
    return cols, kinds


@settings(max_examples=200, deadline=None)
@given(table=tables(), chunk=st.integers(1, 5))
def test_bytes_equal_the_csv_module(table, chunk):
    columns, kinds = table
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvwrite, "CHUNK_ROWS", chunk)        # rows cut into chunks
        got = list(csv_chunks(columns, kinds))
    assert None not in got
    assert b"".join(got) == reference(columns, kinds)


@pytest.mark.parametrize("value", ["a\rb", 5, None, np.str_("x")])
def test_texts_left_to_the_csv_module(value):
    assert list(csv_chunks([["ok", value]], [TEXT])) == [None]


def test_columns_of_another_kind_or_length_are_refused():
    with pytest.raises(ValueError, match="column 1: not 2 values of kind 1"):
        list(csv_chunks([["a", "b"], np.zeros(3)], [TEXT, FLOAT]))
    with pytest.raises(ValueError, match="column 0: not 1 values of kind 2"):
        list(csv_chunks([np.zeros(1)], [INT]))
