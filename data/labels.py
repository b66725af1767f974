"""Truth and labels: what really happened, and what a carrier would know.

``truth.csv`` lists every SIM with its class, kind and deployment — for
evaluation only.  ``labels.csv`` is what a carrier really has: the SIMs (and
devices, by IMEI) seized in a few raided deployments, and a few customers
confirmed legitimate after complaints (mostly the hard negatives that got
blocked by mistake), each with a ``case_id``.  Labels only ever cover part of
the fraud and never contradict the truth.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simbox.data.kinds import KIND_NAMES, KINDS
from simbox.data.registry import substream, uniform_range
from simbox.fastpath.events import decode_array

LABEL_COLUMNS = ["imsi", "imei", "label", "case_id"]


def truth_table(subs, deployments) -> pd.DataFrame:
    kind = np.array(KIND_NAMES, dtype=object)[subs.kind]
    cls = np.array([k.cls for k in KINDS], dtype=object)[subs.kind]
    dep = np.full(subs.n, "", dtype=object)
    for d in deployments:
        dep[d.sims] = d.id
    df = pd.DataFrame({"imsi": decode_array(subs.imsi), "class": cls, "deployment_id": dep,
                       "kind": kind})
    return df.sort_values("imsi", kind="stable").reset_index(drop=True)


def label_table(seed, cfg, subs, deployments, legit_groups) -> pd.DataFrame:
    rng = substream(seed, "labels")
    lab = cfg.labels
    rows = []
    n_dep = len(deployments)
    case = 0
    if n_dep:
        n_raid = min(n_dep, max(int(lab.min_raids), int(round(lab.raided_share * n_dep))))
        order = rng.permutation(n_dep)
        chosen = []
        # one of each class first when possible, then the rest in random order
        for cls in ("simbox", "cardfarm"):
            for i in order:
                if deployments[i].kind.startswith(cls) and i not in chosen:
                    chosen.append(int(i))
                    break
        for i in order:
            if len(chosen) >= n_raid:
                break
            if int(i) not in chosen:
                chosen.append(int(i))
        chosen = sorted(chosen[:n_raid])
        for i in chosen:
            d = deployments[i]
            case += 1
            cid = f"CASE-{case:03d}"
            label = "simbox" if d.kind.startswith("simbox") else "cardfarm"
            found = np.isin(d.sims, d.in_device_at_end) | (rng.random(len(d.sims)) < lab.found_share)
            for imsi in decode_array(subs.imsi[d.sims[found]]):
                rows.append((imsi, "", label, cid))
            if lab.device_rows and d.kind != "simbox_spoof":
                for imei in decode_array(np.intersect1d(d.seizable_devices, d.devices)):
                    rows.append(("", imei, label, cid))
    # complaints confirmed legitimate: hard negatives mostly
    prefer = ["call_centre", "desk_gateway", "driver", "small_business", "m2m", "dual_sim",
              "ordinary"]
    for _ in range(int(lab.legit_cases)):
        kinds = [k for k in prefer if len(legit_groups.get(k, ())) > 0]
        if not kinds:
            break
        k = kinds[int(rng.integers(len(kinds)))]
        groups = legit_groups[k]
        g = groups[int(rng.integers(len(groups)))]
        size = min(len(g), int(uniform_range(rng, lab.legit_case_size)))
        pick = np.sort(rng.choice(g, size=size, replace=False))
        case += 1
        cid = f"CASE-{case:03d}"
        for imsi in decode_array(subs.imsi[pick]):
            rows.append((imsi, "", "legit", cid))
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    # one row per identity (a SIM could be drawn into two complaint cases)
    df = df.drop_duplicates(subset=["imsi", "imei"], keep="first").reset_index(drop=True)
    return df
