import pytest

from synthetic_network import make_network


@pytest.fixture(scope="session")
def network():
    """The synthetic network of synthetic_network.py (planted deployments A-D)."""
    return make_network()
