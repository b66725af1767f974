"""Shipping the compiled code to executors (docs/spark.md): wheel -> fresh venv -> venv-pack
-> unpacked elsewhere -> spark-submit with PYSPARK_PYTHON set to the unpacked Python.

It builds and installs simbox from scratch (minutes), so it runs when SIMBOX_SHIP_TEST=1
(.ci/run sets it, once, after the suite).
"""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SIMBOX_SHIP_TEST") != "1",
                       reason="builds a wheel and a packed venv (minutes): SIMBOX_SHIP_TEST=1 "
                              "runs it (.ci/run does)"),
]


def run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def test_wheel_and_packed_venv_run_on_spark_executors(tmp_path):
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed")
    from simbox.data import simulate
    dist = tmp_path / "dist"
    # with Cython here, build with it (no download of the build requirements)
    iso = ["--no-build-isolation"] if all(importlib.util.find_spec(m) for m in ("Cython", "wheel")) \
        else []
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", *iso, "-q", "-w", dist, ROOT])
    wheel, = dist.glob("simbox-*.whl")
    env = tmp_path / "simbox-env"
    run([sys.executable, "-m", "venv", env])
    run([env / "bin" / "python", "-m", "pip", "install", "-q", wheel, "venv-pack"])
    run([env / "bin" / "venv-pack", "-p", env, "-o", tmp_path / "simbox-env.tar.gz"])
    node = tmp_path / "node" / "environment"        # where a node unpacks --archives
    node.mkdir(parents=True)
    with tarfile.open(tmp_path / "simbox-env.tar.gz") as t:
        t.extractall(node, filter="fully_trusted")
    shutil.rmtree(env)                              # nothing may come from the build venv
    net = tmp_path / "net"
    sim = simulate(800, 2, "mixed", 3, net)
    submit = pathlib.Path(sys.executable).parent / "spark-submit"
    script = node / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages" / "simbox" / "spark" / "submit.py"
    common = [net / "cdrs.csv.gz", "--cells", net / "cells.csv", "--timezone",
              sim.network.timezone, "--no-report"]
    run([submit, "--master", "local[2]", "--conf", "spark.ui.enabled=false",
         "--conf", "spark.sql.shuffle.partitions=4", script, "scan", *common,
         "--engine", "spark", "--out", tmp_path / "spark"],
        env={**os.environ, "SPARK_HOME": os.path.dirname(pyspark.__file__),
             "PYSPARK_PYTHON": str(node / "bin" / "python"),
             "PYSPARK_DRIVER_PYTHON": str(node / "bin" / "python"),
             "PYTHONPATH": ""}, cwd=tmp_path)
    run([node / "bin" / "python", "-m", "simbox", "scan", *common, "--out", tmp_path / "local"],
        cwd=tmp_path)
    for name in ("flagged.csv", "scores.csv", "sites.csv"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
