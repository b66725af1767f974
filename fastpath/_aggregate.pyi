from typing import Any, Mapping, TypedDict

import numpy as np

SLOTS: tuple[str, ...]
EV_BYTES: int

def constants_in_use() -> dict[str, float]: ...

class Counts(TypedDict):
    duplicates: int
    dev: int
    cell: int
    site: int
    move: int
    reg: int

def reduce_partition(
    events: Mapping[str, np.ndarray],      # IN: rtype, time, imei, msisdn, other, duration, cell
    ids: np.ndarray,                       # IN: int32 dense IMSI id per event
    tz: tuple[np.ndarray, int],            # IN: (int32 offsets per 15-min bucket, first bucket)
    cells: Any,                            # IN: aggregate.CellTable (site, lat, lon, cell_rank, site_rank)
    columns: np.ndarray,                   # IN: int32 output column of each slot (-1 = not wanted)
    out: Any,                              # OUT: aggregate.Reduced with the arrays allocated
    ev_buf: np.ndarray | None = None,      # IN/OUT: uint8 scratch of >= n * EV_BYTES bytes
) -> Counts: ...
