"""cells.csv and TAC readers (csv module, no pandas) against the pandas readers they replaced
(two messages reworded: a long row, an empty file)."""
import re
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tables_reference as ref
from simbox.errors import InputError
from simbox.features.tables import cell_table, load_cells, load_tac

CELLS_OK = "cell_id,site_id,lat,lon,azimuth\nA,S1,31.2,121.4,0\nB, S2 ,-33.9,151.2,120\n"


def outcome(fn, src):
    try:
        return "ok", fn(src)
    except InputError as exc:
        return "error", ours(str(exc))


def ours(msg):
    """A message of the pandas readers as the csv readers word it (one line, the file line)."""
    m = re.fullmatch(r"(.*): not a readable (\w+) CSV \(Error tokenizing data\. C error: "
                     r"Expected (\d+) fields in line (\d+), saw (\d+)\n\)", msg, re.S)
    if m:
        return (f"{m[1]}:{m[4]}: {m[5]} fields where the header has {m[3]} (a value holding the "
                "separator must be quoted)")
    m = re.fullmatch(r"(.*): not a readable (\w+) CSV \(No columns to parse from file\)", msg)
    if m:
        return f"{m[1]}: empty {m[2]} file (no header line)"
    return msg


def check_cells(src):
    want = outcome(ref.load_cells, src)
    got = outcome(load_cells, src)
    assert got[0] == want[0], (got, want)
    if want[0] == "error":
        assert got[1] == want[1]
    else:
        pd.testing.assert_frame_equal(got[1].to_frame(), want[1])
        frame = want[1]
        assert list(got[1].cell_id) == list(frame.index)
        assert np.array_equal(got[1].lat, frame["lat"].to_numpy())


def check_tac(src):
    want = outcome(ref.load_tac, src)
    got = outcome(load_tac, src)
    assert got[0] == want[0], (got, want)
    if want[0] == "error":
        assert got[1] == want[1]
    else:
        assert got[1] == dict(zip(want[1].index, want[1].to_numpy()))


@pytest.mark.parametrize("text", [
    CELLS_OK,
    "\ufeff" + CELLS_OK,                                      # a byte order mark
    CELLS_OK.replace("\n", "\r\n"),
    "\n" + CELLS_OK + "\n   \nC,S3,1,2,3\n",                    # blank lines are skipped
    "cell_id , site_id,lat,lon\nA,S1,31.2,121.4\n",             # header names stripped
    'cell_id,site_id,lat,lon,address\nA,S1,31.2,121.4,"1 Main St, Town"\n',
    "cell_id,site_id,lat,lon\nA,S1,31.2\n",                     # a short row
    "cell_id,site_id,lat,lon\nA,S1, 31.2 ,121.4\n",
    "cell_id,site_id,lat,lon\nA,S1,1e1,+121\n",
    "cell_id,site_id,lat,lon\nA,S1,1_0,121\n",
    "cell_id,site_id,lat,lon\nA,S1,nan,121\n",
    "cell_id,site_id,lat,lon\nA,S1,inf,121\n",
    "cell_id,site_id,lat,lon\nA,S1,-90,180\nB,S1,90.0,-180\n",
    "cell_id,site_id,lat,lon\nA,S1,90.0001,0\n",
    "cell_id,site_id,lat,lon\nA,S1,1,200\n",
    "cell_id,site_id,lat,lon\nA,S1,,1\n",
    "cell_id,site_id,lat,lon\nA,S1,\u0661,1\n",                  # an Arabic-Indic digit
    "cell_id,site_id,lat,lon\n A,S1,1,1\nA ,S2,1,1\n",          # the same cell once stripped
    "cell_id,site_id,lat,lon\n",
    "cell_id,site_id,lat,lon,,lat\nA,S1,1,1,x,2\n",            # blank and repeated names
    "cell_id,site,lat,lon\nA,S1,1,1\n",
    "site_id,lat\n",
    "",
    "\n\n",
    "cell_id,site_id,lat,lon\nA,S1,1,1\nB,S1,1,1,9\n",          # a long row
])
def test_cells_file_as_pandas(tmp_path, text):
    path = tmp_path / "cells.csv"
    path.write_text(text, encoding="utf-8")
    check_cells(path)


def test_cells_not_utf8(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_bytes(b"cell_id,site_id,lat,lon\nA,S\xff,1,1\n")
    with pytest.raises(InputError, match=r"cells.csv: not a readable cells CSV \('utf-8' codec can't "):
        load_cells(path)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"cell_id": ["A", "B"], "site_id": ["S1", "S2"], "lat": [31.2, 95.0], "lon": [1.0, 2.0]}),
    pd.DataFrame({"cell_id": ["A", "B"], "site_id": ["S1", "S2"], "lat": [31.2, 30.0], "lon": [1, 2],
                  "azimuth": [0, 120]}),
    pd.DataFrame({"cell_id": [1, 2], "site_id": [7, 7], "lat": ["31.2", "x"], "lon": [1, 2]}),
    pd.DataFrame({"cell_id": ["A", "A"], "site_id": ["S1", "S2"], "lat": [1.0, 2.0], "lon": [1, 2]}),
    pd.DataFrame({"cell_id": ["A"], "lat": [1.0], "lon": [1.0]}),
    pd.DataFrame({"cell_id": ["A", "B"], "site_id": ["S1", "S2"], "lat": [1.0, np.nan], "lon": [1, 2]}),
])
def test_cells_frame_as_pandas(frame):
    check_cells(frame)


@pytest.mark.parametrize("text", [
    "tac,device_type\n35693803,Smartphone\n86753090, Modem \n35693803,Other\n",
    "tac,device_type\n 35693803 ,Smartphone\n",
    "tac,device_type\n3569380,Smartphone\n",
    "tac,device_type\n3569380a,Smartphone\n",
    "tac,device_type\n\u0663\u0665\u0666\u0669\u0663\u0668\u0660\u0663,Smartphone\n",
    "tac\n35693803\n",
    "tac,device_type\n35693803\n",
    "",
])
def test_tac_file_as_pandas(tmp_path, text):
    path = tmp_path / "tac.csv"
    path.write_text(text, encoding="utf-8")
    check_tac(path)


def test_tac_frame_as_pandas():
    check_tac(pd.DataFrame({"tac": ["35693803", 86753090], "device_type": ["Smartphone", "Modem"]}))
    check_tac(pd.DataFrame({"tac": ["35693803", "123"], "device_type": ["Smartphone", "Modem"]}))


FIELDS = st.one_of(st.sampled_from(["", " ", "A", "A ", "S1", "1", "-1", "31.2", "95", "-181",
                                    "1e2", "x", "nan", '"q,1"', "46000-1-2"]),
                   st.text(string.digits + ".-e ", max_size=6))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.permutations(["cell_id", "site_id", "lat", "lon", "azimuth"]),
       rows=st.lists(st.lists(FIELDS, min_size=3, max_size=5), max_size=6))
def test_random_cells_files_as_pandas(tmp_path, header, rows):
    path = tmp_path / "cells.csv"
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n")
    check_cells(path)


def test_cell_table_sites_and_warning(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("cell_id,site_id,lat,lon\nA,S2,1,2\nB,S1,3,4\nC,S2,5,6\n")
    table, sites, warning = cell_table(["C", "X", "A", "B"], load_cells(path))
    assert list(sites) == ["S2", "X", "S1"] and list(table.site) == [0, 1, 0, 2]
    assert np.array_equal(table.lat, [5, np.nan, 1, 3], equal_nan=True)
    assert warning.startswith("1 cell(s) of the input are not in cells.csv (e.g. X)")
    empty = tmp_path / "empty.csv"
    empty.write_text("cell_id,site_id,lat,lon\n")
    table, sites, warning = cell_table(["A", "B"], load_cells(empty))
    assert list(sites) == ["A", "B"] and np.isnan(table.lat).all()
    assert cell_table([], load_cells(path))[0].site.shape == (0,)
