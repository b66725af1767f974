import json
import os

import numpy as np
import pandas as pd
import pytest

from geo_checks import check_kml, check_rfc7946
from simbox.errors import InputError
from simbox.outputs import atomic_folder, circle, geojson
from simbox.scan import FLAGGED_COLUMNS, assemble
from simbox.sites import SITE_COLUMNS, haversine_m, load_cells

DEPLOYMENT_COLUMNS = ["deployment_id", "class", "n_sims", "n_devices", "n_sites", "sites", "lat",
                      "lon", "radius_m", "first_seen", "last_seen", "active_hours", "events", "score",
                      "priority", "linked_by"]


@pytest.fixture(scope="module")
def result(network):
    return assemble(network.res, network.predictions, load_cells(network.cells), threshold=0.5,
                    summary={"model": "synthetic"})


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("scan") / "out"
    result.write(out)
    return out


def test_files_written(written):
    assert sorted(os.listdir(written)) == ["deployments.csv", "flagged.csv", "report.html",
                                           "scores.csv", "sites.csv", "sites.geojson", "sites.kml",
                                           "summary.json"]
    # no temporary folder left beside it
    assert [p.name for p in written.parent.iterdir()] == ["out"]


def test_csv_columns(written, result):
    flagged = pd.read_csv(written / "flagged.csv", dtype=str, keep_default_na=False)
    assert list(flagged.columns) == FLAGGED_COLUMNS
    assert list(pd.read_csv(written / "deployments.csv").columns) == DEPLOYMENT_COLUMNS
    assert list(pd.read_csv(written / "sites.csv").columns) == SITE_COLUMNS + ["address"]
    assert len(flagged) == 47 and flagged["imsi"].str.len().eq(15).all()
    assert flagged["first_seen"].iloc[0] == "2026-03-01T01:00:00Z"
    # the shutdown list goes deployment by deployment
    assert list(pd.unique(flagged["deployment_id"])) == ["D001", "D002", "D003", "D004"]
    sites = pd.read_csv(written / "sites.csv")
    assert sites.loc[0, "site_id"] == result.sites.loc[0, "site_id"]


def test_geojson_is_rfc7946_longitude_first(written, result):
    doc = json.loads((written / "sites.geojson").read_text())
    check_rfc7946(doc)
    assert len(doc["features"]) == len(result.sites)
    for f, row in zip(doc["features"], result.sites.itertuples()):
        assert f["id"] == row.site_id
        assert f["geometry"]["coordinates"] == [pytest.approx(row.lon), pytest.approx(row.lat)]
        assert f["properties"]["n_sims"] == row.n_sims
        assert f["properties"]["first_seen"].endswith("Z")


def test_geojson_unlocated_without_geometry_and_nan():
    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [1.0, np.nan], "lon": [2.0, np.nan],
                          "radius_m": [np.nan, 0.0], "n_sims": [np.int64(3), np.int64(1)]})
    doc = geojson(sites)
    check_rfc7946(doc)
    assert [f["id"] for f in doc["features"]] == ["a", "b"]
    assert doc["features"][0]["properties"] == {"site_id": "a", "radius_m": None, "n_sims": 3}
    assert doc["features"][1]["geometry"] is None
    assert doc["features"][1]["properties"] == {"site_id": "b", "radius_m": 0.0, "n_sims": 1,
                                                "coordinates": "unknown"}


def test_kml_parses_in_kml_namespace(written, result):
    points, rings = check_kml(written / "sites.kml")
    assert len(points) == len(result.sites)
    assert len(rings) == int((result.sites["radius_m"] > 0).sum())
    first = points[0]
    assert first["name"] == result.sites.loc[0, "site_id"]
    assert (first["lon"], first["lat"]) == (pytest.approx(result.sites.loc[0, "lon"]),
                                            pytest.approx(result.sites.loc[0, "lat"]))
    assert first["data"]["n_sims"] == str(result.sites.loc[0, "n_sims"])


def test_circle_has_the_radius():
    ring = circle(31.2, 121.4, 250.0)
    assert ring[0] == ring[-1]
    d = haversine_m(31.2, 121.4, np.array([p[1] for p in ring]), np.array([p[0] for p in ring]))
    assert np.allclose(d, 250.0, rtol=2e-3)


def test_failed_write_leaves_previous_output(written, result, monkeypatch):
    before = (written / "flagged.csv").read_bytes()
    import simbox.scan as scan_mod

    def broken(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(scan_mod, "write_kml", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        result.write(written)
    assert (written / "flagged.csv").read_bytes() == before
    assert sorted(p.name for p in written.parent.iterdir()) == ["out"]


def test_rewrite_replaces_previous_output(written, result):
    (written / "rejects.csv").write_text("old\n")
    result.write(written)
    assert not (written / "rejects.csv").exists()
    assert (written / "flagged.csv").exists()


def test_refuses_a_folder_of_other_files(tmp_path, result):
    (tmp_path / "thesis.docx").write_text("precious")
    with pytest.raises(InputError) as e:
        result.write(tmp_path)
    assert str(e.value) == (f"{tmp_path}: refusing to replace a folder that holds files simbox did not "
                            "write (thesis.docx); give a new or empty folder for --out")
    assert (tmp_path / "thesis.docx").read_text() == "precious"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        with atomic_folder(f):
            pass
