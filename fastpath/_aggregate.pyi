import numpy as np

SLOTS: tuple[str, ...]
EV_BYTES: int

def constants_in_use() -> dict[str, float]: ...

def reduce_partition(
    rtype: np.ndarray, time: np.ndarray, ids: np.ndarray, imei: np.ndarray, msisdn: np.ndarray,
    other: np.ndarray, duration: np.ndarray, cell: np.ndarray,
    tz_offset: np.ndarray, q0: int,
    cell_site: np.ndarray, cell_lat: np.ndarray, cell_lon: np.ndarray,
    cell_rank: np.ndarray, site_rank: np.ndarray,
    cols: np.ndarray,
    feats: np.ndarray, hours: np.ndarray, msisdn_out: np.ndarray,
    main_imei: np.ndarray, main_cell: np.ndarray, main_site: np.ndarray,
    dev_id: np.ndarray, dev_imei: np.ndarray, dev_events: np.ndarray,
    dev_first: np.ndarray, dev_last: np.ndarray,
    cell_id_out: np.ndarray, cell_code_out: np.ndarray, cell_events: np.ndarray,
    site_id_out: np.ndarray, site_code_out: np.ndarray, site_events: np.ndarray,
    move_id: np.ndarray, move_from: np.ndarray, move_to: np.ndarray, move_time: np.ndarray,
) -> tuple[int, int, int, int, int]: ...
