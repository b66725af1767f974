import numpy as np

def pick_places(values: np.ndarray, scores: np.ndarray, rows: np.ndarray, tie: np.ndarray,
                group_of: np.ndarray, floor: float, limit: np.ndarray, count: np.ndarray,
                picked: np.ndarray, used: np.ndarray, median: np.ndarray | None = ...,
                scale: np.ndarray | None = ..., direction: np.ndarray | None = ...,
                cap: float = ...) -> None: ...
