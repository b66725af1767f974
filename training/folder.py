"""The model folder's card and files, checked without scikit-learn.

:mod:`simbox.training.model` describes the folder: ``model.json`` (the card, with
the sha256 of each file and an optional HMAC signature over it), ``model.skops``
(the pipeline) and ``scoring.npz`` (the arrays a scan scores with,
:mod:`simbox.training.scoring`).  These functions read, sign and check the card and
the files it names; they import neither scikit-learn nor skops, so a scan can check
a folder without them.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import pathlib

import numpy as np

from simbox.errors import ModelError

FORMAT = "simbox-model/2"
FORMATS_READ = ("simbox-model/1", FORMAT)     # /1: model.joblib (a pickle)
MODEL_FILE = "model.skops"
PICKLE_FILE = "model.joblib"
SCORING_FILE = "scoring.npz"
CARD_FILE = "model.json"
KEY_ENV = "SIMBOX_MODEL_KEY_FILE"
DEFAULT_MODEL = pathlib.Path(__file__).parent / "default_model"     # shipped in the package


def file_entry(path: pathlib.Path) -> dict:
    """The card's record of a file: its sha256 and size."""
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def write_card(folder: pathlib.Path, card: dict, secret: bytes | None) -> dict:
    """Write ``card`` (NaN-free, signed with ``secret`` when given) as the folder's
    ``model.json``, atomically; returns the card written."""
    card = nan_free({k: v for k, v in card.items() if k != "signature"})
    if secret is not None:
        card["signature"] = {"algorithm": "hmac-sha256", "value": sign_card(card, secret)}
    tmp = folder / (CARD_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(card, fh, indent=2, default=_json_default, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, folder / CARD_FILE)
    return card


def card_key(key):
    """The signing key to check a folder with: the one given, else the file named by
    ``SIMBOX_MODEL_KEY_FILE`` when set, else None."""
    if key is None and os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV]
    return key


def sha256_file(path) -> str:
    with open(path, "rb") as fh:
        if hasattr(hashlib, "file_digest"):     # Python 3.11+: one buffer, 1.4x as fast
            return hashlib.file_digest(fh, "sha256").hexdigest()
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def nan_free(obj):
    """``obj`` with NaN / inf floats replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: nan_free(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_free(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_float(v):
    return None if v is None else float(v)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pathlib.Path,)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_card(folder: pathlib.Path) -> dict:
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such model folder")
    p = folder / CARD_FILE
    if not p.is_file():
        raise ModelError(f"{folder}: no {CARD_FILE}: not a simbox model folder, or an "
                         "incomplete copy; copy the whole folder again or retrain")
    try:
        card = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}" if hasattr(exc, "lineno") else f"byte {exc.start}"
        raise ModelError(f"{p}: corrupted (not valid JSON at {where}); copy the model "
                         "folder again or retrain") from None
    if not isinstance(card, dict) or card.get("format") not in FORMATS_READ:
        got = card.get("format") if isinstance(card, dict) else None
        raise ModelError(f"{p}: format {got!r}, this simbox reads {FORMAT!r}; retrain the "
                         "model with this simbox")
    for key in ("files", "libraries", "features"):
        if not isinstance(card.get(key), dict):
            raise ModelError(f"{p}: corrupted (no {key!r} section); copy the model folder "
                             "again or retrain")
    return card


def read_key(key) -> bytes:
    """The signing key: bytes as given, or the contents of a key file (str or Path)."""
    if isinstance(key, (bytes, bytearray)):
        secret = bytes(key)
    else:
        p = pathlib.Path(key)
        try:
            secret = p.read_bytes().strip()
        except OSError as exc:
            raise ModelError(f"{p}: cannot read the model signing key ({exc.strerror})") from None
        if not secret:
            raise ModelError(f"{p}: the model signing key file is empty")
    if len(secret) < 16:
        raise ModelError("the model signing key is shorter than 16 bytes; use a long random "
                         "secret (e.g. head -c 32 /dev/urandom | base64 > model.key)")
    return secret


def sign_card(card: dict, secret: bytes) -> str:
    """HMAC-SHA256 (hex) of the card without its signature, as canonical JSON; the card
    holds each file's sha256, so this signs the files too."""
    body = {k: v for k, v in card.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default,
                      allow_nan=False)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def check_signature(folder: pathlib.Path, card: dict, secret: bytes):
    sig = card.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        raise ModelError(f"{folder}: the model folder is not signed, and a signing key was "
                         "given; sign it (python -m simbox.training.convert_model FOLDER --model-key KEY_FILE) "
                         "or load it without the key")
    if sig.get("algorithm") != "hmac-sha256" or not hmac.compare_digest(
            str(sig["value"]), sign_card(card, secret)):
        raise ModelError(f"{folder}: signature does not match the signing key: the model was "
                         "changed after it was signed, or signed with another key; do not use it")


def model_file(folder: pathlib.Path, card: dict, trust_pickle: bool) -> str:
    """The model file of a folder: ``model.skops``, or the pickle of an older save when trusted."""
    if MODEL_FILE in card["files"]:
        return MODEL_FILE
    if PICKLE_FILE in card["files"]:
        if not trust_pickle:
            raise ModelError(f"{folder}: holds {PICKLE_FILE}, a pickle that can run any code when "
                             "loaded; convert it once from a trusted copy (python -m "
                             f"simbox.training.convert_model {folder}), or pass --trust-pickle "
                             "if you trust where it came from")
        return PICKLE_FILE
    raise ModelError(f"{folder / CARD_FILE}: names no model file; copy the model folder again "
                     "or retrain")


def check_files(folder: pathlib.Path, card: dict, name: str = MODEL_FILE):
    p = folder / name
    want = card["files"].get(name, {})
    if not p.is_file():
        raise ModelError(f"{p}: missing; copy the whole model folder again or retrain")
    size = p.stat().st_size
    if want.get("sha256") != sha256_file(p):
        how = (f"{size} bytes, the card says {want.get('bytes')}"
               if size != want.get("bytes") else "same size, different content")
        raise ModelError(f"{p}: sha256 differs from {CARD_FILE} ({how}): the file is "
                         "truncated or corrupted; copy the model folder again or retrain")


def _series(version) -> str:
    """``"1.9.1"`` -> ``"1.9"``: the release series of a version string."""
    return ".".join(str(version or "").split(".")[:2])


def check_schema(folder: pathlib.Path, card: dict, names, schema_hash):
    f = card["features"]
    if f.get("schema_hash") == schema_hash:
        return
    from simbox.training.schema import own_features_unchanged  # lazy: schema -> features registry
    if own_features_unchanged(f.get("names", []), f.get("schema_hash")):
        return          # features were added since: the model scores with its own
    saved = list(f.get("names", []))
    added = [n for n in names if n not in saved]
    removed = [n for n in saved if n not in names]
    diff = []
    if added:
        diff.append("added: " + ", ".join(added))
    if removed:
        diff.append("removed: " + ", ".join(removed))
    if not diff:
        diff.append("same names, changed definitions")
    made_by = card.get("libraries", {}).get("simbox", "?")
    raise ModelError(f"{folder}: feature schema {str(f.get('schema_hash'))[:12]} of the model "
                     f"differs from this simbox's {str(schema_hash)[:12]} ({'; '.join(diff)}); "
                     f"retrain the model with simbox train, or install simbox=={made_by} "
                     "that made it")


def check_numpy(folder: pathlib.Path, card: dict):
    """The folder's arrays need the numpy major version they were saved with."""
    saved = str(card["libraries"].get("numpy", ""))
    if saved.split(".")[0] != np.__version__.split(".")[0]:
        raise ModelError(f"{folder}: saved with numpy {saved}, this environment has "
                         f"{np.__version__}; install it (pip install numpy=={saved}) or retrain "
                         "the model with simbox train")


def checked_folder(path, pick, *, key=None, schema=None, libraries=check_numpy):
    """``(folder, card, file)`` of a model folder whose card, signature (``key``, default:
    :func:`card_key`), file ``pick(folder, card)`` (its sha256), library versions
    (``libraries(folder, card)``) and feature schema (``schema``: ``(names, schema_hash)``,
    default: this simbox's registry) check out, else a one-line ModelError."""
    folder = pathlib.Path(path)
    card = read_card(folder)
    key = card_key(key)
    if key is not None:
        check_signature(folder, card, read_key(key))
    name = pick(folder, card)
    check_files(folder, card, name)
    libraries(folder, card)
    if schema is None:
        from simbox.training.schema import registry_schema
        schema = registry_schema()
    check_schema(folder, card, *schema)
    return folder, card, name
