"""simbox's own labelled knowledge: simulated SIMs of many worlds, shipped with the model.

A carrier's seizures cover the kinds of fraud its raids found.  To catch the
others, ``simbox train`` learns from the seizures *together with* labelled SIMs of
many simulated networks (:mod:`simbox.data.worlds`: population mixes, hard
negatives and fraud variants drawn per world).  Those SIMs are computed once, by
``python -m simbox.training.build_default_model``, through the fast path exactly
as a scan computes features, and stored beside the default model as
``knowledge.parquet``:

- every feature of the registry (float32), one row per simulated SIM;
- ``_label`` (class), ``_case`` (deployment, or the SIM's own case), ``_kind``
  (fraud kind), ``_legit_group`` (legit population), ``_world`` (world seed);
- ``_weight``: the population weight of the row: legit SIMs of the large, easy
  populations are subsampled and stand for ``1 / rate`` SIMs each; fraud and hard
  negatives are all kept (weight 1).

The file's metadata records the feature schema hash it was computed with; a
simbox whose registry differs refuses it with a message (rebuild the default
model, or train with ``--no-simulated``).
"""
from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simbox.errors import InputError

KNOWLEDGE_FILE = "knowledge.parquet"
META_KEY = b"simbox.knowledge"
COLUMNS = ("_label", "_case", "_kind", "_legit_group", "_world", "_weight")


@dataclass
class Knowledge:
    X: pd.DataFrame        # features, index "sim:w<world>:<imsi>"
    truth: pd.DataFrame    # imsi (same index values), label, case_id, kind, legit_group
    weight: np.ndarray     # population weight per row
    info: dict             # worlds, rows per label, schema hash, how it was made

    def __len__(self):
        return len(self.X)


def subsample(truth: pd.DataFrame, keep_groups, *, rate: float, seed: int = 0,
              group_rates=None) -> np.ndarray:
    """Population weights (0 = dropped) for the rows of a truth table.

    Fraud SIMs and legit SIMs whose ``legit_group`` is in ``keep_groups`` (the hard
    negatives) are all kept with weight 1; the other legit SIMs are kept at
    ``rate`` with weight ``1 / rate``.  ``group_rates`` (``{group: rate}``) sets
    the rate of named groups, kept or not: a large group the model separates well
    (IoT fleets, drivers) is sampled too, its kept SIMs standing for the rest.
    """
    rng = np.random.default_rng(seed)
    label = truth["label"].to_numpy().astype(str)
    group = truth["legit_group"].to_numpy().astype(str)
    legit = label == "legit"
    r = np.where(legit & ~np.isin(group, list(keep_groups)), rate, 1.0)
    for g, gr in (group_rates or {}).items():
        if not 0.0 < gr <= 1.0:
            raise ValueError(f"sampling rate of {g} must be within (0, 1], not {gr}")
        r[legit & (group == g)] = gr
    drawn = rng.random(len(truth)) < r
    return np.where(r >= 1.0, 1.0, np.where(drawn, 1.0 / r, 0.0))


def write_knowledge(path, X: pd.DataFrame, truth: pd.DataFrame, weight, info: dict):
    """Write ``knowledge.parquet``: features as float32 plus the label columns."""
    weight = np.asarray(weight, dtype=float)
    keep = weight > 0
    t = truth.reset_index(drop=True)[keep]
    cols = {n: pa.array(X[n].to_numpy(dtype=np.float32)[keep]) for n in X.columns}
    cols.update({
        "_imsi": pa.array(X.index.to_numpy().astype(str)[keep]),
        "_label": pa.array(t["label"].astype(str).to_numpy()),
        "_case": pa.array(t["case_id"].astype(str).to_numpy()),
        "_kind": pa.array(t["kind"].astype(str).to_numpy()),
        "_legit_group": pa.array(t["legit_group"].astype(str).to_numpy()),
        "_world": pa.array(t["world"].astype(str).to_numpy() if "world" in t
                           else np.full(int(keep.sum()), "")),
        "_weight": pa.array(weight[keep].astype(np.float32)),
        # young-age rows (training/young.py): learnt from, never used to set the threshold
        "_young": pa.array(t["young"].fillna(False).astype(bool).to_numpy() if "young" in t
                           else np.zeros(int(keep.sum()), dtype=bool)),
    })
    table = pa.table(cols)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(info, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    tmp = pathlib.Path(str(path) + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9)
    tmp.replace(path)


def read_knowledge(path, names, schema_hash) -> Knowledge:
    """Read ``knowledge.parquet``, refusing one computed with another feature schema."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no simulated knowledge here; rebuild the default model "
                         "(python -m simbox.training.build_default_model) or train with "
                         "--no-simulated")
    table = pq.read_table(p)
    raw = (table.schema.metadata or {}).get(META_KEY)
    info = json.loads(raw) if raw else {}
    if info.get("schema_hash") != schema_hash:
        raise InputError(f"{p}: computed with feature schema {str(info.get('schema_hash'))[:12]}, "
                         f"this simbox has {str(schema_hash)[:12]}; rebuild the default model "
                         "(python -m simbox.training.build_default_model) or train with "
                         "--no-simulated")
    df = table.to_pandas()
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise InputError(f"{p}: lacks feature(s) {', '.join(missing[:5])}; rebuild the default "
                         "model or train with --no-simulated")
    index = pd.Index(df["_imsi"].astype(str), name="imsi")
    X = df.loc[:, list(names)].astype(np.float64).set_axis(index)
    truth = pd.DataFrame({"imsi": index, "label": df["_label"].to_numpy(),
                          "case_id": df["_case"].to_numpy(), "kind": df["_kind"].to_numpy(),
                          "legit_group": df["_legit_group"].to_numpy(),
                          "world": df["_world"].to_numpy(),
                          "young": (df["_young"].to_numpy(dtype=bool) if "_young" in df
                                    else np.zeros(len(df), dtype=bool))})
    return Knowledge(X, truth, df["_weight"].to_numpy(dtype=float), info)


def default_knowledge(names, schema_hash) -> Knowledge:
    """The knowledge shipped beside the default model."""
    from simbox.training.run import DEFAULT_MODEL  # lazy: circular (run -> train -> knowledge)
    return read_knowledge(DEFAULT_MODEL / KNOWLEDGE_FILE, names, schema_hash)
