import numpy as np
import pandas as pd

from simbox.training.rules import RulesBaseline, conditions, rules_out_of_fold


def test_conditions_nan_never_holds():
    X = pd.DataFrame({"moc_callees": [100, 0], "mt_mo_ratio": [0.0, np.nan],
                      "n_cells": [1, 5], "imei_max_imsis": [8, 1]})
    c = conditions(X, {"callees": 50, "incoming": 0.05, "cells": 1, "imsis_per_imei": 4})
    assert c.tolist() == [[True, True, True, True], [False, False, False, False]]


def test_rules_pick_config_reaching_target(network):
    X, truth = network
    y = truth["label"].ne("legit").to_numpy()
    r = RulesBaseline(target_precision=0.99).fit(X, y)
    f = r.predict(X)
    prec = (y & f).sum() / f.sum()
    assert r.train_precision_reached_ and prec >= 0.99
    assert set(r.params_) == {"callees", "incoming", "cells", "imsis_per_imei", "min_hits"}
    assert ((r.score(X) >= r.params_["min_hits"] / 4) == f).all()


def test_rules_out_of_fold_uses_only_train_fold():
    X = pd.DataFrame({"moc_callees": [300] * 10 + [5] * 10, "mt_mo_ratio": [0.0] * 20,
                      "n_cells": [1] * 20, "imei_max_imsis": [1] * 20,
                      "n_moc": [300] * 20, "n_sms_mo": [0] * 20})
    y = np.array([True] * 10 + [False] * 10)
    splits = [(np.arange(0, 20, 2), np.arange(1, 20, 2)), (np.arange(1, 20, 2), np.arange(0, 20, 2))]
    flagged, score, cls, params = rules_out_of_fold(X, y, splits, target_precision=1.0)
    assert (flagged == y).all() and len(params) == 2
    assert set(cls) == {"simbox"}
