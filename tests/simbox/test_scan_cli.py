"""The scan command's user errors: one line on stderr, exit status 1, no traceback."""
import pytest

from simbox.cli import main
from synthetic_network import make_cells


def run(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture
def cdr(tmp_path):
    p = tmp_path / "cdrs.csv"
    p.write_text("record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
                 "MOC,2026-03-01T12:00:05Z,460001234567890,,8613800000000,8613900000000,30,46000-0-0\n")
    return p


def test_no_cells_file_scans_without_coordinates(tmp_path, cdr, capsys):
    code, out, err = run(["scan", str(cdr), "--out", str(tmp_path / "o"), "--timezone", "UTC",
                          "--threshold", "0"], capsys)
    assert code == 0 and err == ""
    head, tail = out.split(" in 1 deployment(s)")       # the class is the model's
    assert head.startswith("scanned 1 SIMs (1 records): 1 flagged (1 ")
    assert tail == (" at 1 site(s); first site 46000-0-0 (1 SIMs); no cell table (--cells): "
                    "each site is one cell, its coordinates are unknown; no map; report: "
                    f"{tmp_path / 'o' / 'report.html'}\n")
    sites = (tmp_path / "o" / "sites.csv").read_text().splitlines()
    assert sites[0].endswith(",coordinates") and sites[1].startswith("46000-0-0,,,")
    assert sites[1].endswith(",unknown")


def test_cells_file_not_found(tmp_path, cdr, capsys):
    code, _, err = run(["scan", str(cdr), "--cells", str(tmp_path / "cells.csv"), "--out",
                        str(tmp_path / "o")], capsys)
    assert code == 1
    assert err == f"simbox scan: error: {tmp_path}/cells.csv: cells file not found\n"


def test_bad_cell_coordinates(tmp_path, cdr, capsys):
    cells = make_cells(1).astype({"lat": object})
    cells.loc[1, "lat"] = "north"
    cells.to_csv(tmp_path / "cells.csv", index=False)
    code, _, err = run(["scan", str(cdr), "--cells", str(tmp_path / "cells.csv"), "--out",
                        str(tmp_path / "o")], capsys)
    assert code == 1
    assert err == (f"simbox scan: error: {tmp_path}/cells.csv:3: field 'lat': 'north' is not a "
                   "latitude in [-90, 90]\n")


@pytest.mark.parametrize("opts, message", [
    (["--threshold", "1.5"], "threshold must be within [0, 1], not 1.5"),
    (["--target-precision", "1"], "target precision must be within (0, 1), not 1.0"),
])
def test_bad_threshold_options(tmp_path, cdr, capsys, opts, message):
    make_cells(1).to_csv(tmp_path / "cells.csv", index=False)
    code, _, err = run(["scan", str(cdr), "--cells", str(tmp_path / "cells.csv"), "--out",
                        str(tmp_path / "o"), *opts], capsys)
    assert (code, err) == (1, f"simbox scan: error: {message}\n")


def test_threshold_and_target_are_exclusive(tmp_path, cdr, capsys):
    with pytest.raises(SystemExit) as e:
        main(["scan", str(cdr), "--cells", "c.csv", "--out", "o", "--threshold", "0.5",
              "--target-precision", "0.99"])
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
