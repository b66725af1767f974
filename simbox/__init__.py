"""simbox: find SIM boxes and card farms in a mobile carrier's own data."""
from simbox._version import __version__
from simbox.errors import (ConfigError, EmptyInputError, InputError, ModelError,
                           ParseError, SimboxError)

__all__ = ["__version__", "SimboxError", "InputError", "ParseError", "EmptyInputError",
           "ConfigError", "ModelError"]
