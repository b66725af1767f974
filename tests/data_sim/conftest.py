import pytest

from simbox.data import build_network

# a small network where every population and fraud kind appears (cloned IMEIs, a world
# kind, have their own network in test_sim_offices.py)
SMALL = {"fraud": {"share": 0.03, "roaming_sims_share": 0.1}, "cardfarm": {"sims": [20, 60]},
         "simbox": {"ports": [4, 8, 16, 32], "port_weights": [1, 1, 1, 1],
                    "caller_shift_h": [0, 8], "fct_tac_share": 0.1},
         "legit": {"shares": {"ordinary": 0.70, "low_activity": 0.10, "m2m": 0.06,
                              "driver": 0.03, "small_business": 0.03, "dual_sim": 0.03,
                              "phone_changer": 0.02, "traveller": 0.02, "call_centre": 0.01,
                              "desk_gateway": 0.01, "roamer": 0.01}}}


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
