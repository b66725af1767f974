import pytest

from synthetic_network import NAMES, SCHEMA_HASH, make_network


@pytest.fixture(scope="session")
def network():
    return make_network()


@pytest.fixture(scope="session")
def names():
    return list(NAMES)


@pytest.fixture(scope="session")
def schema_hash():
    return SCHEMA_HASH
