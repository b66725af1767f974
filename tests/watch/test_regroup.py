"""Deployments, sites and reasons between drops (simbox/watch/regroup.py): what a drop did
not change is carried over; the tables equal a full regroup's after every drop, the
reasons at each full regroup and, between, for every SIM whose inputs changed."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import simbox.scan as scan
from simbox.training.scoring import decisions
from simbox.watch import Watcher
from simbox.watch.regroup import Regrouper
from simbox.watch.rescore import DRIFTING

from watch_helpers import drop_each, quarter_hours


class StandIn:
    """A stand-in model: a fixed function of each row (calls out, few in, shared devices),
    no dependence on the shipped model's scores or threshold."""

    threshold = 0.5
    card: dict = {}

    def predict(self, X: pd.DataFrame, threshold=None) -> pd.DataFrame:
        t = self.threshold if threshold is None else threshold
        f = X.fillna(0.0)
        x = (np.log1p(f["n_moc"] + f["n_sms_mo"]) - np.log1p(f["n_mtc"])
             + 0.5 * np.log1p(f["imei_max_imsis"])).to_numpy(float)
        score = 1.0 / (1.0 + np.exp(-(x - 3.0)))
        sms = (f["n_sms_mo"] > f["n_moc"]).to_numpy()
        a = np.where(sms, 0.2, 0.8)
        p = np.c_[score * a, score * (1 - a), 1.0 - score]
        return decisions(p, X.index, t)


def _inputs(res, sims, hours):
    """What grouping, locating and wording read of each flagged SIM (the test's own view)."""
    cols = [c for c in res.features.columns if c not in DRIFTING]
    rows = {}
    dev = res.devices.loc[res.devices["imsi"].isin(sims.index)]
    cel = res.cells.loc[res.cells["imsi"].isin(sims.index)]
    for i, s in enumerate(sims.index):
        rows[s] = (tuple(sims.loc[s].astype(str)), tuple(np.asarray(hours)[i]),
                   tuple(map(tuple, dev.loc[dev["imsi"] == s].astype(str).to_numpy())),
                   tuple(map(tuple, cel.loc[cel["imsi"] == s].astype(str).to_numpy())),
                   tuple(res.features.loc[s, cols].astype(str)))
    return rows


def _replay(tmp_path, sample_rows, cells_csv, regrouper=Regrouper):
    """Drops of 15 minutes into a watch with the stand-in model; after each, the
    regrouper's tables against a full regroup of the same inputs."""
    plan = quarter_hours(sample_rows, 12)
    drops = tmp_path / "drops"
    drops.mkdir()
    w = Watcher(drops, tmp_path / "state", None, window="7d", model=StandIn(), cells=cells_csv,
                timezone="UTC", settle=0, min_history=0)
    real = regrouper()
    seen = {"full": 0, "partial": 0, "carried": 0, "changed": 0}
    last = {}

    class Checked:
        def __call__(self, res, sims, hours, cells, *, full=True, **kw):
            got = real(res, sims, hours, cells, full=full, **kw)
            want = scan.group_tables(res, sims, hours, cells, **kw)
            pd.testing.assert_frame_equal(got[1], want[1])
            pd.testing.assert_frame_equal(got[2], want[2])
            pd.testing.assert_series_equal(got[0]["deployment_id"], want[0]["deployment_id"])
            reasons = got[3].reindex(sims.index)
            inputs = _inputs(res, sims, hours)
            if real.last["full"]:
                seen["full"] += 1
                pd.testing.assert_series_equal(reasons.astype(str),
                                               want[3].reindex(sims.index).astype(str),
                                               check_names=False)
            else:
                seen["partial"] += 1
                # the same reference as the last full regroup: equal but for SIMs kept
                pop = SimpleNamespace(reference=got[4], sims=len(res.features))
                same_ref = scan._reasons(res, got[0], kw["would"], kw["score"],
                                         population=pop)[0].reindex(sims.index)
                for s in sims.index:
                    unchanged = s in last.get("inputs", {}) and last["inputs"][s] == inputs[s]
                    seen["carried" if unchanged else "changed"] += 1
                    if reasons[s] != same_ref[s]:
                        assert unchanged, s
                        assert reasons[s] == last["reasons"][s], s
            last.update(inputs=inputs, reasons=reasons)
            return got

    w.regrouper = _Forward(real, Checked())
    try:
        drop_each(w, sample_rows, plan, drops)
    finally:
        w.close()
    return seen


class _Forward:
    """The watcher's regrouper during one refresh: calls go through the checks, ``last``
    is the real one's."""

    def __init__(self, real, checked):
        self.real, self.checked = real, checked

    @property
    def last(self):
        return self.real.last

    def __call__(self, *args, **kw):
        return self.checked(*args, **kw)


def test_regroup_equals_a_full_regroup(tmp_path, sample_rows, cells_csv):
    seen = _replay(tmp_path, sample_rows, cells_csv)
    assert seen["full"] >= 2 and seen["partial"] >= 4, seen
    assert seen["carried"] > 0 and seen["changed"] > 0, seen


class _CarryAll(Regrouper):
    """A mutation: deployments and sites whose SIMs are the same are carried over even
    when their SIMs changed."""

    def _deployments(self, sims, hours, labels, counts, changed, *args):
        return super()._deployments(sims, hours, labels, counts, np.zeros_like(changed),
                                    *args)

    def _sites(self, sims, hours, changed, *args):
        return super()._sites(sims, hours, np.zeros_like(changed), *args)


class _KeepReasons(Regrouper):
    """A mutation: every SIM flagged before keeps its reasons."""

    def _reasons(self, res, sims, changed, score):
        pos = self.fp.index.get_indexer(sims.index)
        return super()._reasons(res, sims, pos < 0, score)


@pytest.mark.parametrize("mutant", [_CarryAll, _KeepReasons])
def test_the_regroup_test_can_fail(tmp_path, sample_rows, cells_csv, mutant):
    with pytest.raises(AssertionError):
        _replay(tmp_path, sample_rows, cells_csv, mutant)
