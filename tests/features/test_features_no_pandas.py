"""``simbox features --out x.parquet`` imports no pandas; the file is the DataFrame's."""
import pathlib
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq

from simbox.features import compute_features, write_table

RUN = """
import sys, warnings
warnings.simplefilter("ignore")
from simbox.cli import main
code = main(sys.argv[1:])
assert code == 0, code
heavy = sorted(m for m in ("pandas", "sklearn", "matplotlib", "scipy") if m in sys.modules)
print("heavy:", ",".join(heavy))
"""


def test_features_command_imports_no_pandas(datadir, tmp_path):
    d = datadir / "features"
    out = tmp_path / "f.parquet"
    args = ["features", str(d / "day1.csv"), str(d / "day2.csv"), "--cells", str(d / "cells.csv"),
            "--tac", str(d / "tac.csv"), "--timezone", "Asia/Shanghai", "--out", str(out)]
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "heavy:"
    # the file written from the result's columns is the one the DataFrame gives
    res = compute_features([d / "day1.csv", d / "day2.csv"], cells=d / "cells.csv",
                           tac=d / "tac.csv", timezone="Asia/Shanghai")
    via_frame = write_table(res.features, tmp_path / "frame.parquet")
    got, want = pq.read_table(out), pq.read_table(via_frame)
    assert got.schema.equals(want.schema, check_metadata=False)
    assert got.replace_schema_metadata(None).equals(want.replace_schema_metadata(None))
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(via_frame))
    assert got.column_names[0] == "imsi" and got.num_rows == 5


def test_feature_frame_is_built_once_from_the_columns(datadir):
    d = datadir / "features"
    res = compute_features([d / "day1.csv"], cells=d / "cells.csv")
    assert res._features is None
    f = res.features
    assert res.features is f and f.index.name == "imsi" and f.index.dtype == object
    assert res.shape == f.shape and list(f.index) == list(res.columns["imsi"])
    assert [str(t) for t in f.dtypes] == [str(res.columns[c].dtype) for c in f.columns]


def test_profiled_engine_imports_no_pandas(tmp_path):
    # a real export through the profiled engine (pyarrow) is as light as the canonical kernel
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
    import exports
    f = exports.write_all(tmp_path)["msc-words"]
    args = ["features", f, "--columns", "msc-words", "--timezone", "Europe/Berlin", "--out",
            str(tmp_path / "w.parquet")]
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "heavy:"
