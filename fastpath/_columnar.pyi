import numpy as np

TEXT_OFFSETS32: int
TEXT_OFFSETS64: int
TEXT_VIEWS: int
DIGITS: int
SECONDS: int
ISO: int

class Text:
    n: int
    def __init__(self, layout: int, n: int, offset: int, valid: int, offsets: int, data: int,
                 bufs: np.ndarray | None = ..., owner: object = ...) -> None: ...

def text_values(col: Text, kind: int, lo: int, hi: int, empty_ok: bool, plus_ok: bool,
                out: np.ndarray, bad: np.ndarray | None = ...) -> int: ...
def int_values(values: np.ndarray, valid: int, offset: int, kind: int, lo: int, hi: int,
               empty_ok: bool, out: np.ndarray) -> int: ...
def instants(values: np.ndarray, valid: int, offset: int, unit: int, shift: int,
             out: np.ndarray) -> int: ...
def gather(indices: np.ndarray, valid: int, offset: int, table: np.ndarray, bad: np.ndarray,
           null_ok: bool, null_value: int, out: np.ndarray) -> int: ...

# Parquet pages read in place (_parquet_pages.pxi; wrapper: parquet_pages.py)
PQ_TEXT: int
PQ_INT: int
PQ_INSTANT: int
PQ_CODES: int
PQ_BYTE_ARRAY: int
PQ_INT32: int
PQ_INT64: int
HEADER_SLOTS: int
H_PAGE_TYPE: int
H_PAGE_UNCOMPRESSED: int
H_PAGE_COMPRESSED: int
H_PAGE_VALUES: int
H_PAGE_ENCODING: int
H_PAGE_NULLS: int
H_PAGE_DEF_BYTES: int
H_PAGE_REP_BYTES: int
H_PAGE_IS_COMPRESSED: int

def page_header(buf: np.ndarray, pos: int, h: np.ndarray) -> int: ...
def byte_arrays(page: np.ndarray, n: int) -> list[bytes] | None: ...

class PageColumn:
    left: int
    plain_codes: bool
    plain_bytes: int
    def __init__(self, mode: int, physical: int, max_def: int, rule: tuple | None = ...,
                 unit: int = ..., shift: int = ..., null_ok: bool = ...,
                 null_value: int = ...) -> None: ...
    def set_table(self, table: np.ndarray, bad: np.ndarray) -> None: ...
    def dictionary(self, page: np.ndarray, n: int) -> bool: ...
    def page(self, levels: object, values: object, num_values: int, encoding: int) -> bool: ...
    def strings(self, n: int, offsets: np.ndarray, data: np.ndarray, valid: np.ndarray) -> int: ...
    def take(self, out: np.ndarray, n: int) -> int: ...
