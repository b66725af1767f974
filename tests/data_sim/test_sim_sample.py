import gzip

from simbox.data import sample_dir
from simbox.data.build_sample import build

FILES = ("cdrs.csv.gz", "cells.csv", "tac.csv", "truth.csv", "labels.csv", "deployments.csv")


def test_shipped_sample_equals_a_fresh_rebuild(tmp_path):
    build(tmp_path)
    shipped = sample_dir()
    for name in FILES:
        a, b = (shipped / name).read_bytes(), (tmp_path / name).read_bytes()
        if name.endswith(".gz"):
            # compare the content: gzip streams may differ between zlib builds
            a, b = gzip.decompress(a), gzip.decompress(b)
        assert a == b, f"data/sample/{name} is stale: run python -m simbox.data.build_sample"


def test_sample_is_small_and_has_every_fraud_class():
    shipped = sample_dir()
    assert (shipped / "cdrs.csv.gz").stat().st_size < 6_000_000
    truth = (shipped / "truth.csv").read_text().splitlines()
    classes = {line.split(",")[1] for line in truth[1:]}
    assert classes == {"legit", "simbox", "cardfarm"}
