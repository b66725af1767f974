import numpy as np

def site_leaders(hours: np.ndarray, order: np.ndarray, starts: np.ndarray, first: np.ndarray,
                 last: np.ndarray, threshold: float, max_leaders: int, chunk: int, scale: float,
                 links: np.ndarray, chunk_done: np.ndarray,
                 chunk_comparisons: np.ndarray) -> tuple[int, int, int]: ...

def set_level(level: int) -> int: ...
