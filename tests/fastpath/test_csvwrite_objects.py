"""The CSV row kernel's OBJECTS columns (object arrays, no list made) against the csv module
writing the texts pandas' ``to_csv`` writes (``csv_texts``: missing values empty)."""
import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import csvwrite
from simbox.fastpath.csvwrite import INT, OBJECTS, csv_chunks
from simbox.outputs import csv_texts

TEXTS = st.text(alphabet=st.sampled_from(list('ab,"\n\t =é日;1.\'')), max_size=6)
#: what the kernel writes itself: texts, None, NaN
WRITTEN = st.one_of(TEXTS, st.none(), st.just(float("nan")))


def objects(values) -> np.ndarray:
    v = np.empty(len(values), dtype=object)
    v[:] = values
    return v


def reference(columns) -> bytes:
    out = io.StringIO()
    texts = [csv_texts(pd.Series(c, dtype=object)) if isinstance(c, np.ndarray) and
             c.dtype == object else [str(x) for x in c.tolist()] for c in columns]
    csv.writer(out, lineterminator="\n").writerows(zip(*texts))
    return out.getvalue().encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(0, 12), width=st.integers(1, 4), chunk=st.integers(1, 5))
def test_objects_equal_the_csv_module(data, n, width, chunk):
    columns = [objects(data.draw(st.lists(WRITTEN, min_size=n, max_size=n)))
               for _ in range(width)]
    kinds = [OBJECTS] * width
    if data.draw(st.booleans()):                     # beside a column of numbers
        columns.append(np.arange(n, dtype=np.int64))
        kinds.append(INT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvwrite, "CHUNK_ROWS", chunk)
        got = list(csv_chunks(columns, kinds))
    assert None not in got
    assert b"".join(got) == reference(columns)


@pytest.mark.parametrize("value", ["a\rb", 5, 1.5, np.float64("nan"), pd.NA, pd.NaT, b"x",
                                   np.str_("x")])
def test_other_objects_are_left_to_the_csv_module(value):
    assert list(csv_chunks([objects(["ok", value])], [OBJECTS])) == [None]


def test_a_column_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="column 0: not 2 values of kind 7"):
        list(csv_chunks([["a", "b"]], [OBJECTS]))
    with pytest.raises(ValueError, match="column 0: not 2 values of kind 7"):
        list(csv_chunks([np.array(["a", "b"])], [OBJECTS]))
