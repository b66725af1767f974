"""simbox.data: the labelled network simulator, reference tables and the sample data set.

``simulate(subscribers, days, scenario, seed, out)`` writes a labelled network;
``build_network(...)`` returns it in memory (:class:`Network`);
``simulate_world(world, ...)`` / ``build_world`` do the same for a world whose
whole configuration is drawn from its seed (:mod:`simbox.data.worlds`).  Kinds and
classes of the populations are in :mod:`simbox.data.kinds`; every parameter in
:mod:`simbox.data.config`.  ``sample_dir()`` is the small shipped sample.
"""
import pathlib

from simbox.data.config import SCENARIOS, Config, load_config
from simbox.data.kinds import CLASSES, FRAUD_KINDS, KINDS, LEGIT_KINDS
from simbox.data.simulate import Network, SimulationResult, build_network, simulate
from simbox.data.worlds import build_world, simulate_world, split_of, world_config

__all__ = ["simulate", "build_network", "simulate_world", "build_world", "world_config",
           "split_of", "Network", "SimulationResult", "Config", "load_config",
           "SCENARIOS", "KINDS", "CLASSES", "LEGIT_KINDS", "FRAUD_KINDS", "sample_dir"]


def sample_dir() -> pathlib.Path:
    """The folder of the shipped sample network (see ``build_sample.py``)."""
    return pathlib.Path(__file__).parent / "sample"
