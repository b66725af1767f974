import pytest

from simbox.data import build_network

# a small network where every population and fraud kind appears
SMALL = {"fraud": {"share": 0.03}, "cardfarm": {"sims": [20, 60]},
         "simbox": {"ports": [4, 8, 16, 32], "port_weights": [1, 1, 1, 1]}}


@pytest.fixture(scope="session")
def small():
    """Overrides for small networks (import-free: test modules take it as a fixture)."""
    return SMALL


@pytest.fixture(scope="session")
def mixed_net():
    return build_network(8000, 4, "mixed", 11, config=SMALL)


@pytest.fixture(scope="session")
def evasive_net():
    return build_network(6000, 3, "evasive", 5, config=SMALL)
