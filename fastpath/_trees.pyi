import numpy as np

def raw_predict(X: np.ndarray, nodes: np.ndarray, roots: np.ndarray, output: np.ndarray,
                baseline: np.ndarray, out: np.ndarray) -> None: ...
