"""write_csv writes the bytes pandas' to_csv writes (the reference), column by column."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.outputs import iso_times, neutralise_formulas, write_csv

TEXT = st.text(alphabet=st.sampled_from(list('ab,"\n\r\t =+-@\'é;1.')), max_size=6)
FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [0.0, -0.0, 1.0, 0.1234, 1e-7, 123456789012.5, 0.99999999999, 5e-324]))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 8))
    cols = {
        "f": pd.Series(draw(st.lists(FLOAT, min_size=n, max_size=n)), dtype="float64"),
        "i": pd.Series(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)),
                       dtype="int64"),
        "b": pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        "s": pd.Series(draw(st.lists(st.one_of(TEXT, st.none()), min_size=n, max_size=n)),
                       dtype="str"),
        "o": pd.Series(draw(st.lists(st.one_of(TEXT, st.none(), FLOAT, st.integers()),
                                     min_size=n, max_size=n)), dtype=object),
        "t": pd.to_datetime(pd.Series(draw(st.lists(
            st.one_of(st.none(), st.integers(-10**10, 10**10)), min_size=n, max_size=n)),
            dtype="float64"), unit="s", utc=True),
    }
    return pd.DataFrame(cols)


@settings(max_examples=150, deadline=None)
@given(df=frames())
def test_bytes_equal_pandas_to_csv(df, tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    write_csv(df, d / "got.csv")
    neutralise_formulas(iso_times(df)).to_csv(d / "want.csv", index=False, lineterminator="\n",
                                              float_format="%.10g")
    assert (d / "got.csv").read_bytes() == (d / "want.csv").read_bytes()


def test_formulas_quotes_and_missing_values(tmp_path):
    df = pd.DataFrame({"site": ["=HYPERLINK(\"x\")", "a,b", None], "lat": [-12.5, np.nan, 1.0],
                       "n": [1, 2, 3]})
    write_csv(df, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text() == (
        'site,lat,n\n"\'=HYPERLINK(""x"")",-12.5,1\n"a,b",,2\n,1,3\n')
