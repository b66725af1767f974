"""Rewrite a model folder of an older simbox (``model.joblib``, a pickle) in the skops format,
or sign a model folder.

    python -m simbox.training.convert_model MODEL_DIR [--out NEW_DIR] [--model-key KEY_FILE]

Loads the pickle once -- run it only on a copy you trust, since loading a pickle
runs code -- and saves the same pipeline and card as ``model.skops`` (see
:mod:`simbox.training.model`), signed with the key when one is given.  Without
``--out`` the folder is converted in place (``model.joblib`` is removed).  A
folder already in the skops format is loaded safely and saved again: with
``--model-key`` that signs it.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from simbox.errors import SimboxError
from simbox.training.model import Model, read_card


def convert(folder, out=None, *, key=None) -> pathlib.Path:
    """Load ``folder`` trusting its pickle, save it as skops into ``out`` (default: in place)."""
    folder = pathlib.Path(folder)
    card = read_card(folder)
    schema = (list(card["features"]["names"]), card["features"]["schema_hash"])
    m = Model.load(folder, schema=schema, trust_pickle=True)
    return m.save(folder if out is None else out, timestamp="saved" in card, key=key)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--out")
    ap.add_argument("--model-key", help="sign the converted folder with this key file")
    a = ap.parse_args(argv)
    try:
        out = convert(a.model, a.out, key=a.model_key)
    except SimboxError as exc:
        print(f"convert_model: error: {exc}", file=sys.stderr)
        return 1
    print(f"converted {a.model} -> {out / 'model.skops'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
