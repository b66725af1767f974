"""Rewrite a model folder of an older simbox (``model.joblib``, a pickle) in the skops format,
sign a model folder, or add its ``scoring.npz``.

    python -m simbox.training.convert_model MODEL_DIR [--out NEW_DIR] [--model-key KEY_FILE]
    python -m simbox.training.convert_model MODEL_DIR --add-scoring [--model-key KEY_FILE]

Loads the pickle once -- run it only on a copy you trust, since loading a pickle
runs code -- and saves the same pipeline and card as ``model.skops`` (see
:mod:`simbox.training.model`), signed with the key when one is given.  Without
``--out`` the folder is converted in place (``model.joblib`` is removed).  A
folder already in the skops format is loaded safely and saved again: with
``--model-key`` that signs it.

``--add-scoring`` leaves ``model.skops`` as it is: it derives ``scoring.npz`` (the
arrays a scan scores with, :mod:`simbox.training.scoring`) from it, byte for byte
the same each time, and adds the file's sha256 to ``model.json`` (re-signed with
``--model-key``; a signed folder needs it).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from simbox.errors import ModelError, SimboxError
from simbox.training.folder import SCORING_FILE, file_entry, read_card, read_key, write_card
from simbox.training.model import Model


def convert(folder, out=None, *, key=None) -> pathlib.Path:
    """Load ``folder`` trusting its pickle, save it as skops into ``out`` (default: in place)."""
    folder = pathlib.Path(folder)
    card = read_card(folder)
    schema = (list(card["features"]["names"]), card["features"]["schema_hash"])
    m = Model.load(folder, schema=schema, trust_pickle=True)
    return m.save(folder if out is None else out, timestamp="saved" in card, key=key)


def add_scoring(folder, *, key=None) -> pathlib.Path:
    """Write ``scoring.npz`` of the folder's ``model.skops`` and list it in ``model.json``."""
    folder = pathlib.Path(folder)
    card = read_card(folder)
    if "signature" in card and key is None:
        raise ModelError(f"{folder}: the model folder is signed; give its key (--model-key "
                         "KEY_FILE) to sign the card with the new file")
    schema = (list(card["features"]["names"]), card["features"]["schema_hash"])
    m = Model.load(folder, schema=schema, key=key)
    if not m.write_scoring(folder):
        raise ModelError(f"{folder}: its pipeline is of an older simbox, which {SCORING_FILE} "
                         "cannot reproduce; retrain the model")
    card["files"] = dict(card["files"], **{SCORING_FILE: file_entry(folder / SCORING_FILE)})
    write_card(folder, card, read_key(key) if key is not None else None)
    return folder / SCORING_FILE


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--out")
    ap.add_argument("--model-key", help="sign the converted folder with this key file")
    ap.add_argument("--add-scoring", action="store_true",
                    help=f"only add {SCORING_FILE} (derived from model.skops) to the folder")
    a = ap.parse_args(argv)
    try:
        if a.add_scoring:
            if a.out:
                ap.error("--add-scoring writes into MODEL_DIR; --out does not apply")
            print(f"added {add_scoring(a.model, key=a.model_key)}")
            return 0
        out = convert(a.model, a.out, key=a.model_key)
    except SimboxError as exc:
        print(f"convert_model: error: {exc}", file=sys.stderr)
        return 1
    print(f"converted {a.model} -> {out / 'model.skops'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
