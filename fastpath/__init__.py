"""simbox.fastpath: Cython readers and aggregation kernels.

Knows nothing of features, models or the command line.
"""
try:
    from simbox.fastpath import _digits  # noqa: F401  (probe: is the build there?)
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "simbox's compiled extensions are missing or were built for another Python "
        f"({exc}). Reinstall from the source folder: pip install -e . "
        "(or pip install . ); a C compiler and the Python headers are needed."
    ) from exc

from simbox.fastpath.events import (  # noqa: E402
    COLUMN_NAMES, CellDict, EventBatch, RecordType, decode_digits, encode_digits,
)
from simbox.fastpath.stats import ReadStats, RejectsWriter  # noqa: E402

__all__ = ["COLUMN_NAMES", "CellDict", "EventBatch", "RecordType", "ReadStats",
           "RejectsWriter", "decode_digits", "encode_digits"]
