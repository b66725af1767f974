"""simbox: find SIM boxes and card farms in a mobile carrier's own data."""
from simbox._version import __version__
from simbox.errors import (ConfigError, EmptyInputError, InputError, ModelError,
                           ParseError, SimboxError)

__all__ = ["__version__", "SimboxError", "InputError", "ParseError", "EmptyInputError",
           "ConfigError", "ModelError", "simulate"]


def __getattr__(name):
    # heavy parts load on first use: ``simbox.simulate(...)`` imports the simulator then
    if name == "simulate":
        from simbox.data import simulate
        return simulate
    raise AttributeError(f"module 'simbox' has no attribute {name!r}")
