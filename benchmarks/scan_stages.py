#!/usr/bin/env python3
"""Where a scan's time goes: one ``simbox scan`` in this process, its stages timed.

    python benchmarks/scan_stages.py -- scan cdrs.csv.gz --cells cells.csv --out scan/ --no-report

Runs :func:`simbox.cli.main` with the arguments after ``--``, with the scan's stage
functions wrapped, and prints one JSON object: per stage, the CPU seconds of the
thread that ran it (``time.thread_time``) and the wall seconds, summed over calls;
``model load`` is the loading thread's CPU, which runs beside the features; the
threads that bin and walk the trees (``simbox.fastpath.trees``, two from 16,384 SIMs) are
counted in the total only (``scoring`` is then the main thread's share: waiting).
``benchmarks/bench_scan_cost.py`` runs its scans through it.

``SIMBOX_STAGES_DEVICE_RULE=off`` in the environment switches the device rule off
(``simbox.device_rule.MAX_GATEWAY_SIMS`` raised past any device): what a scan of the same
rows costs when the rule flags nothing (``bench_scan_cost.py --device-rule off``).

The scan's modules are imported, and its stages wrapped, where the command imports them:
after it has started the feature run (``simbox.features_ahead.start``), so that the run
hides the imports as it does in ``simbox scan`` (an older simbox without that module: first).
"""
from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time

_T = {}
_PROCESS = (time.process_time(), time.monotonic())


def timed(label, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        c0, w0 = time.thread_time(), time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            c, w = _T.get(label, (0.0, 0.0))
            _T[label] = (c + time.thread_time() - c0, w + time.monotonic() - w0)
    return wrapper


def main(argv) -> int:
    from simbox.cli import main as cli_main
    import simbox.features as feats
    feats.compute_features = timed("features", feats.compute_features)
    try:
        import simbox.features_ahead as ahead
    except ImportError:                 # an older simbox (--peer): the scan imported first
        ahead = None
    if ahead is None or not hasattr(ahead, "start"):
        patch_scan()
        return run(cli_main, argv)
    start = ahead.start

    def start_then_patch(*args, **kwargs):
        # as the command does: the feature run started, then the scan's modules imported
        # (here by patch_scan, timed as "imports") while it runs
        run_ahead = start(*args, **kwargs)
        patch_scan()
        return run_ahead
    ahead.start = start_then_patch
    return run(cli_main, argv)


def run(cli_main, argv) -> int:
    code = cli_main(argv)
    _T["total (process CPU)"] = (time.process_time() - _PROCESS[0], time.monotonic() - _PROCESS[1])
    print(json.dumps({"status": code, "stages": {k: [round(c, 3), round(w, 3)]
                                                 for k, (c, w) in _T.items()}}))
    return code


def patch_scan() -> None:
    """Import the scan's modules (timed: ``imports``) and wrap its stage functions."""
    c0, w0 = time.thread_time(), time.monotonic()
    import simbox.scan  # noqa: F401  (the module; ``simbox.scan`` the attribute is callable)
    _T["imports"] = (time.thread_time() - c0, time.monotonic() - w0)
    sc = sys.modules["simbox.scan"]
    if os.environ.get("SIMBOX_STAGES_DEVICE_RULE") == "off":    # (read where it is applied)
        sys.modules["simbox.device_rule"].MAX_GATEWAY_SIMS = 1 << 62
    for name, label in (("group_sims", "grouping"), ("locate", "tables"),
                        ("deployment_table", "tables"), ("site_table", "tables"),
                        ("time_outliers", "tables"), ("occlusion_contributions", "reasons"),
                        ("reasons_table", "reasons"), ("assemble", "assemble (tables, reasons)")):
        if hasattr(sc, name):          # an older simbox (--peer) may lack one
            setattr(sc, name, timed(label, getattr(sc, name)))
    if hasattr(sc, "ModelLoading"):
        sc.ModelLoading.get = timed("waiting for the model", sc.ModelLoading.get)
    sc.ScanResult.write_into = timed("writing", sc.ScanResult.write_into)
    calls, patched = [], set()

    def time_predict(model):
        # the class of the loaded model (Model, or the ScoringModel of a folder with
        # scoring.npz): imported by the scan itself, so timing it imports nothing more
        cls = type(model)
        if cls not in patched:
            patched.add(cls)
            predict = cls.predict

            def predict_timed(self, X, *a, **k):
                label = "scoring" if not calls else "scoring (reasons)"
                calls.append(X.shape[0])      # (a DataFrame, or a feature run: FeatureResult.shape)
                return timed(label, predict)(self, X, *a, **k)
            cls.predict = predict_timed
        return model
    load = getattr(sc, "load_model", None)
    if load is not None:
        def load_timed(*a, **k):
            label = "model load" + ("" if threading.current_thread() is threading.main_thread()
                                    else " (thread)")
            model, name = timed(label, load)(*a, **k)
            return time_predict(model), name
        sc.load_model = load_timed


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    sys.exit(main(args))
