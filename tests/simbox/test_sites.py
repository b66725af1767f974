import numpy as np
import pandas as pd
import pytest

from simbox.deployments import deployment_table, group_sims
from simbox.errors import InputError
from simbox.sites import SITE_COLUMNS, haversine_m, load_cells, locate, site_table

from synthetic_network import LAT0, LON0, STEP, make_cells


def test_load_cells_from_file(tmp_path):
    path = tmp_path / "cells.csv"
    make_cells(2).to_csv(path, index=False)
    cells = load_cells(path)
    assert cells.index.name == "cell_id" and len(cells) == 12
    assert list(cells.columns) == ["site_id", "lat", "lon", "azimuth", "address"]
    assert cells.loc["46000-3-2", "site_id"] == "S03"
    assert cells["lat"].dtype == float


@pytest.mark.parametrize("text, message", [
    ("cell_id,site_id,lat\n", "cells.csv: cells lacks column(s) lon (header must include "
     "cell_id,site_id,lat,lon; e.g. 46000-1234-56789,S0042,31.23,121.47,120)"),
    ("cell_id,site_id,lat,lon\n", "cells.csv: the cells file has no rows"),
    ("", "cells.csv: empty cells file (no header line)"),
    ("cell_id,site_id,lat,lon\nc1,s1,1,2\nc2,s1,1,2,3\n",
     "cells.csv:3: 5 fields where the header has 4 (a value holding the separator must be quoted)"),
    ("cell_id,site_id,lat,lon\n\nc1,s1,95,1\n",          # the line of the file, blank lines counted
     "cells.csv:3: field 'lat': '95' is not a latitude in [-90, 90]"),
    ('cell_id,site_id,lat,lon\nc1,"s\n1",1,1\nc2,s1,1,x\n',
     "cells.csv:4: field 'lon': 'x' is not a longitude in [-180, 180]"),
    ("cell_id,site_id,lat,lon,azimuth\nc1,s1,31.2,121.4,0\nc2,s1,abc,121.4,90\n",
     "cells.csv:3: field 'lat': 'abc' is not a latitude in [-90, 90]"),
    ("cell_id,site_id,lat,lon,azimuth\nc1,s1,31.2,191.4,0\n",
     "cells.csv:2: field 'lon': '191.4' is not a longitude in [-180, 180]"),
    ("cell_id,site_id,lat,lon,azimuth\nc1,s1,31.2,121.4,\nc1,s1,31.2,121.4,5\n",
     "cells.csv:3: field 'cell_id': 'c1' is listed twice"),
])
def test_load_cells_errors(tmp_path, text, message):
    path = tmp_path / "cells.csv"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        load_cells(path)
    assert str(e.value) == f"{tmp_path}/{message}"


def test_load_cells_missing_file(tmp_path):
    with pytest.raises(InputError) as e:
        load_cells(tmp_path / "nope.csv")
    assert str(e.value) == f"{tmp_path}/nope.csv: cells file not found"


def test_load_cells_accepts_a_loaded_table():
    cells = load_cells(make_cells(1))
    assert load_cells(cells).equals(cells)


def test_haversine():
    # one degree of latitude is about 111.2 km
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(LAT0, LON0, LAT0, LON0) == 0.0


def test_locate_weighted_centroid_and_radius():
    cells = load_cells(make_cells())
    ev = pd.DataFrame({"imsi": ["a", "a", "a", "b", "c"],
                       "cell_id": ["46000-0-0", "46000-0-1", "46000-1-0", "46000-7-1", "unknown-cell"],
                       "events": [20, 10, 10, 5, 9]})
    loc = locate(pd.Series({"a": "g1", "b": "g2", "c": "g3"}), ev, cells)
    # g1: 30 events on the mast at (LAT0, LON0) (two sectors), 10 on the one 500 m east;
    # weights 30^2 : 10^2 put it a tenth of the way
    assert loc.loc["g1", "lat"] == pytest.approx(LAT0)
    assert loc.loc["g1", "lon"] == pytest.approx(LON0 + STEP / 10, abs=1e-6)
    d = haversine_m(LAT0, LON0, LAT0, LON0 + STEP)
    assert loc.loc["g1", "radius_m"] == pytest.approx(np.sqrt(0.9 * (d / 10) ** 2 + 0.1 * (9 * d / 10) ** 2), abs=1)
    assert loc.loc["g1", "cells"] == "46000-0-0;46000-0-1;46000-1-0"
    assert loc.loc["g1", "events"] == 40
    assert loc.loc["g2", "radius_m"] == 0
    assert "g3" not in loc.index          # no known cell: not located


def test_locate_keeps_the_busiest_cluster_of_masts():
    cells = load_cells(make_cells())
    # a box that moved 3.5 km: 60 events at the first place, 100 (+ 20 on a neighbour) later
    ev = pd.DataFrame({"imsi": ["a"] * 4, "cell_id": ["46000-0-0", "46000-35-0", "46000-34-0", "46000-0-1"],
                       "events": [50, 100, 20, 10]})
    loc = locate(pd.Series({"a": "g"}), ev, cells)
    far = (LAT0 + 5 * STEP, LON0 + 5 * STEP)
    lean = 20 ** 2 / (100 ** 2 + 20 ** 2)
    assert loc.loc["g", "lat"] == pytest.approx(far[0])
    assert loc.loc["g", "lon"] == pytest.approx(far[1] - lean * STEP, abs=1e-6)
    assert loc.loc["g", "radius_m"] < 200
    assert loc.loc["g", "events"] == 180    # all events counted, all cells listed
    assert loc.loc["g", "cells"] == "46000-35-0;46000-0-0;46000-34-0;46000-0-1"


def test_locate_even_split_lands_between():
    cells = load_cells(make_cells())
    ev = pd.DataFrame({"imsi": ["a", "a"], "cell_id": ["46000-0-0", "46000-2-0"], "events": [7, 7]})
    loc = locate(pd.Series({"a": "g"}), ev, cells)
    assert (loc.loc["g", "lat"], loc.loc["g", "lon"]) == (pytest.approx(LAT0), pytest.approx(LON0 + STEP))
    assert loc.loc["g", "radius_m"] == pytest.approx(haversine_m(LAT0, LON0, LAT0, LON0 + STEP), abs=1)


def test_site_table(network):
    pred = network.predictions
    keep = pred["flagged"].to_numpy()
    sims = network.res.sims.loc[keep].join(pred.loc[keep, ["class", "score"]])
    hours = network.res.hours[keep]
    labels, counts = group_sims(sims, hours, network.res.devices)
    deps, per_sim = deployment_table(sims, labels, hours, network.res.devices, counts)
    sims = sims.assign(deployment_id=per_sim)
    cells = load_cells(network.cells)
    sites = site_table(sims, hours, network.res.devices, network.res.cells, cells, deps)
    assert list(sites.columns) == SITE_COLUMNS + ["address"]
    assert set(sites["site_id"]) == {"S14", "S27", "S00"}
    s14 = sites.set_index("site_id").loc["S14"]
    truth = network.truth.reindex(sims.index)
    assert s14["n_deployments"] == 2 and s14["n_sims"] == 22 and s14["n_devices"] == 8
    assert s14["deployments"] == ";".join(sorted(per_sim[truth.isin(["A", "C"])].unique()))
    assert s14["active_hours"] == "00:00-06:00, 08:00-21:00"
    assert s14["address"] == "22 Test Road"
    # 16 x 720 + 6 x 500 events on S14 (at LAT0 + 2 STEP, LON0 + 2 STEP), 16 x 80 on S15
    # 500 m east: 1280^2 / (14520^2 + 1280^2) of the way
    lean = 1280 ** 2 / (14520 ** 2 + 1280 ** 2)
    assert (s14["lat"], s14["lon"]) == (pytest.approx(LAT0 + 2 * STEP),
                                        pytest.approx(LON0 + 2 * STEP + lean * STEP, abs=1e-6))
    assert 40 < s14["radius_m"] < 50
    assert s14["cells"] == "46000-14-0;46000-14-1;46000-15-2"
    dp = deps.set_index("deployment_id")["priority"]
    assert s14["priority"] == pytest.approx(dp[per_sim[truth == "A"].iloc[0]] +
                                            dp[per_sim[truth == "C"].iloc[0]], abs=0.1)
    assert sites["priority"].is_monotonic_decreasing
