import numpy as np

def csv_rows(columns: list, kinds: np.ndarray, precision: int, start: int,
             stop: int) -> bytes | None: ...
