"""The scan's summary counts made on codes (``assemble``: ``flagged_by_class`` and ``devices``
from ``factorized``) against the pandas expressions they replace, on flagged.csv's rows and
the flagged SIMs' device pairs; and the flags made once (``scan.flag_sims``) against the three
``_flag`` calls they replace."""
import importlib

import numpy as np
import pandas as pd
import pytest

from simbox.deployments import pairs_of
from simbox.sites import load_cells

scan_mod = importlib.import_module("simbox.scan")


@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.75, 1.01])
def test_summary_counts_equal_the_pandas_expressions(network, threshold):
    res = scan_mod.assemble(network.res, network.predictions, load_cells(network.cells),
                            threshold=threshold)
    by_class = res.flagged["class"].value_counts()
    want = {c: int(by_class[c]) for c in scan_mod.FRAUD_CLASSES if c in by_class}
    assert res.summary["flagged_by_class"] == want
    devices = pairs_of(network.res.devices, pd.Index(res.flagged["imsi"].astype(object)))
    dev = devices.loc[devices["imei"].astype(str) != ""]
    assert res.summary["devices"] == int(dev["imei"].nunique())
    assert res.summary["flagged"] == len(res.flagged)


def test_flags_equal_the_flag_calls_of_held_back_and_assemble(network):
    farms = network.res.sims.iloc[:3].assign(imei="35693803564380", device_sims=600,
                                               device_sites=1)[["imei", "device_sims",
                                                                "device_sites"]]
    for f in (farms, farms.iloc[:0]):
        by_model, preds = scan_mod.flag_sims(network.res, network.predictions, 0.5, f)
        want_model = scan_mod._flag(network.predictions.reindex(network.res.features.index), 0.5)
        pd.testing.assert_frame_equal(by_model, want_model)
        pd.testing.assert_frame_equal(preds, scan_mod._flag(want_model, None, f) if len(f)
                                      else want_model)
        pd.testing.assert_frame_equal(preds, scan_mod._flag(
            network.predictions.reindex(network.res.features.index), 0.5, f))
        assert np.asarray(preds["flagged"]).sum() >= np.asarray(by_model["flagged"]).sum()
