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

# partial reductions and their merge (_aggregate_partial.pxi, _aggregate_merge.pxi);
# the wrapper is fastpath/partials.py
PARTIAL_SCALARS: tuple[str, ...]
PARTIAL_KINDS: tuple[tuple[str, int], ...]

def partial_partition(
    events: Mapping[str, np.ndarray],      # IN: as reduce_partition
    ids: np.ndarray,                       # IN: int32 dense subscriber id per event
    nsub: int,                             # IN: subscribers (ids < nsub)
    tz: tuple[np.ndarray, int],            # IN: as reduce_partition
    ncell: int,                            # IN: cell codes < ncell
    sc: np.ndarray,                        # OUT: int64 (nsub, len(PARTIAL_SCALARS)) zeros
    off: np.ndarray,                       # OUT: int64 (len(PARTIAL_KINDS), nsub + 1)
    dat: list[np.ndarray],                 # OUT: int64 (room, width) per kind
) -> tuple[int, list[int]]: ...            # duplicates dropped, entries of each list

def combine_partials(
    sets: list[tuple[np.ndarray, np.ndarray, list[np.ndarray]]],   # IN: (sc, off, dat) per set
    which: np.ndarray,                     # IN: int64 set of each merged partial
    order: np.ndarray,                     # IN: int64 row of each merged partial in its set
    gstart: np.ndarray,                    # IN: int64 group bounds (a group: one subscriber)
    ncell: int,                            # IN: cell codes < ncell
    out_sc: np.ndarray,                    # OUT: int64 (groups, len(PARTIAL_SCALARS)) zeros
    out_off: np.ndarray,                   # OUT: int64 (len(PARTIAL_KINDS), groups + 1)
    out_dat: list[np.ndarray],             # OUT: int64 (room, width) per kind
) -> list[int]: ...                        # entries of each list

def finish_partials(
    sc: np.ndarray, off: np.ndarray, dat: list[np.ndarray],   # IN: the partials
    cells: Any,                            # IN: as reduce_partition
    columns: np.ndarray,                   # IN: as reduce_partition
    out: Any,                              # OUT: aggregate.Reduced, tables with room
) -> Counts: ...
