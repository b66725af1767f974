import numpy as np

FRAMING_TS32297: int
FRAMING_RAW: int
DONE: int
NEED_MORE: int
FULL: int
NA: int
DEBUG_BUILD: bool

def decode(buf: bytes | bytearray | memoryview, pos: int, end: int, final: bool, framing: int,
           out: dict[str, np.ndarray], n: int, rejects: list, base: int) -> tuple[int, int, int, int]: ...
