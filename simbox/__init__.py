"""simbox: find SIM boxes and card farms in a mobile carrier's own data.

The public API (loaded on first use, so that ``import simbox`` stays light)::

    import simbox
    result = simbox.scan(["cdrs.csv.gz"], cells="cells.csv", out="scan/")
    feats = simbox.compute_features(["cdrs.csv.gz"], cells="cells.csv")
    model = simbox.train(feats, "labels.csv", out="model/")
    report = simbox.evaluate(model, feats, labels="labels.csv")
    net = simbox.simulate(20_000, 7, "mixed", seed=1, out="sim/")
"""
import importlib

from simbox._version import __version__
from simbox.errors import (ConfigError, EmptyInputError, InputError, ModelError,
                           ParseError, SimboxError)

# name -> (module, attribute): imported on first access (PEP 562)
_LAZY = {
    "scan": ("simbox.scan", "scan"),
    "compute_features": ("simbox.features", "compute_features"),
    "train": ("simbox.training.train", "train"),
    "evaluate": ("simbox.training.evaluate", "evaluate"),
    "load_model": ("simbox.training.run", "load_model"),
    "simulate": ("simbox.data", "simulate"),
}

__all__ = ["__version__", "SimboxError", "InputError", "ParseError", "EmptyInputError",
           "ConfigError", "ModelError", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'simbox' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
