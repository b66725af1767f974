import numpy as np
from typing import Any

REASONS: tuple[str, ...]
REASON_FIELD_COUNT: int
REASON_UTF8: int
REASON_QUOTE: int
REASON_TOO_LONG: int
ROLE_RTYPE: int
ROLE_TIME: int
ROLE_IMSI: int
ROLE_IMEI: int
ROLE_MSISDN: int
ROLE_OTHER: int
ROLE_DURATION: int
ROLE_CELL: int
CELL_PARTS: int
TIME_ISO: int
TIME_EPOCH: int
TIME_EPOCH_MS: int
TIME_PATTERN: int
PATTERN_OPS: dict[str, int]
OP_LITERAL: int
NEED_INPUT: int
OUT_FULL: int
REJECTS_READY: int

class CellCache:
    cells: Any
    def __init__(self, cells: Any) -> None: ...
    def __len__(self) -> int: ...
    def lookup(self, token: bytes) -> int: ...

class Parser:
    records: int
    accepted: int
    skipped: int
    line: int
    def __init__(self, ncols: int, roles: list[tuple[int, int]], sep: int, quote: int,
                 time_kind: int, time_ops: bytes, time_args: bytes, naive_offset: int,
                 codes: list[tuple[bytes, int]], float_numbers: bool, stop_on_reject: bool,
                 max_record: int, cache: CellCache, line: int = 2) -> None: ...
    def counts(self) -> tuple[int, int, int, dict[int, int]]: ...
    def take_rejects(self) -> list[tuple[int, int, int, int, int, int, int, int]]: ...
    def parse(self, buf: bytes | bytearray, pos: int, end: int, final: bool,
              rtype: np.ndarray, time: np.ndarray, imsi: np.ndarray, imei: np.ndarray,
              msisdn: np.ndarray, other: np.ndarray, duration: np.ndarray, cell: np.ndarray,
              out_n: int) -> tuple[int, int, int]: ...

DEBUG: bool
