"""Rebuild the small sample network shipped in ``data/sample/``.

    python -m simbox.data.build_sample [--out DIR]

The sample is a mixed-scenario network of 2,000 subscribers over 3 days with a
raised fraud share (3 %, so that every fraud kind appears), smaller card
farms, and desk gateways and roamers at 1 % each (``data/sample_config.json``).
It is deterministic: a test checks that the shipped files equal a fresh rebuild.
"""
from __future__ import annotations

import argparse
import pathlib

SUBSCRIBERS = 2000
DAYS = 3
SCENARIO = "mixed"
SEED = 2026
HERE = pathlib.Path(__file__).parent
CONFIG = HERE / "sample_config.json"


def build(out=None):
    """Write the sample to ``out`` (default: the package's ``sample/`` folder)."""
    from simbox.data import simulate  # lazy: a maintainer script; simulate imports the whole generator
    out = pathlib.Path(out) if out is not None else HERE / "sample"
    return simulate(SUBSCRIBERS, DAYS, SCENARIO, SEED, out, config=CONFIG)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Rebuild the shipped sample network.")
    ap.add_argument("--out", default=None, help="folder (default: data/sample in the package)")
    a = ap.parse_args(argv)
    res = build(a.out)
    print(f"sample: {res.summary_line()}")


if __name__ == "__main__":
    main()
