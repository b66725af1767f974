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
