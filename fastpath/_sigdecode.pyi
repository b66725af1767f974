import numpy as np

DEBUG: bool
KIND_NAMES: dict[int, str]
COUNT_NAMES: tuple[str, ...]
REASONS: dict[int, str]

class Sink:
    time: np.ndarray
    imsi: np.ndarray
    imei: np.ndarray
    msisdn: np.ndarray
    plmn: np.ndarray
    lac: np.ndarray
    ci: np.ndarray
    kind: np.ndarray
    rat: np.ndarray
    packet: np.ndarray
    node: np.ndarray        # MAP: VLR / SGSN number (digits code), 0 = none
    status: np.ndarray      # MAP CheckIMEI equipment status, -1 = none
    tx_key: np.ndarray      # MAP Begins waiting for their answer (0 = empty slot)
    counts: np.ndarray
    rej_packet: np.ndarray
    rej_offset: np.ndarray
    rej_reason: np.ndarray
    rej_field: np.ndarray
    n: int
    nrej: int
    def __init__(self, capacity: int = ...) -> None: ...
    def clear(self) -> None: ...
    def rows(self) -> dict[str, np.ndarray]: ...
    def rejects(self) -> list[tuple[int, int, int, int]]: ...

def decode_packets(sink: Sink, buf: bytes, starts: np.ndarray, ends: np.ndarray,
                   linktypes: np.ndarray, times: np.ndarray, cut: np.ndarray,
                   offsets: np.ndarray, first_packet: int) -> int: ...
def walk_records(sink: Sink, buf: bytes, pos: int, swapped: bool, linktype: int,
                 first_packet: int, base_offset: int, max_packets: int,
                 max_record: int, frac_limit: int = 0) -> tuple[int, int, int]: ...
def find_record(buf: bytes, pos: int, swapped: bool, max_record: int, frac_limit: int,
                final: bool, last_time: int = -1, window: int = 0) -> tuple[int, bool]: ...
