"""The schema guard: a model or knowledge file made before a feature changed its meaning
(a definition, an evidence rule, a constant of fastpath/constants.py) refuses to load."""
import dataclasses

import pytest

from simbox.errors import InputError, ModelError
from simbox.fastpath import constants
from simbox.features import registry
from simbox.training.knowledge import read_knowledge, write_knowledge
from simbox.training.model import Model


def _redefine(name, **change):
    registry.REGISTRY = tuple(dataclasses.replace(f, **change) if f.name == name else f
                              for f in registry.REGISTRY)


CHANGES = {
    "a kernel constant": lambda mp: mp.setattr(constants, "MOVE_GAP_S", 600),
    "a post-processing constant": lambda mp: mp.setattr(constants, "COMOVE_CROWD", 47),
    "the evidence minimum": lambda mp: mp.setattr(constants, "MIN_EVIDENCE", 4),
    "a meaning": lambda mp: (mp.setattr(registry, "REGISTRY", registry.REGISTRY),
                             _redefine("moves", meaning="site changes, at most 10 min apart")),
    "an evidence rule": lambda mp: (mp.setattr(registry, "REGISTRY", registry.REGISTRY),
                                    _redefine("moc_gap_cv", evidence=("n_moc", "n_mtc"))),
}


@pytest.fixture(scope="module")
def saved(network, names, tmp_path_factory):
    """A model folder made with this simbox's schema hash."""
    X, truth = network
    m = Model(feature_names=names, schema_hash=registry.schema_hash(), max_iter=20)
    m.fit(X, truth["label"], groups=truth["case_id"])
    m.threshold = 0.5
    d = tmp_path_factory.mktemp("guard") / "m"
    m.save(d)
    return d, m


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_of_meaning_refuses_the_models_made_before(saved, names, change, monkeypatch):
    d, m = saved
    before = registry.schema_hash()
    assert Model.load(d, schema=(names, before)).schema_hash == before
    CHANGES[change](monkeypatch)
    after = registry.schema_hash()
    assert after != before
    with pytest.raises(ModelError) as e:
        Model.load(d, schema=(names, after))
    assert str(e.value) == (f"{d}: feature schema {before[:12]} of the model differs from this "
                            f"simbox's {after[:12]} (same names, changed definitions); retrain "
                            f"the model with simbox train, or install "
                            f"simbox=={m.card['libraries']['simbox']} that made it")


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_of_meaning_refuses_the_knowledge_made_before(network, names, change, tmp_path,
                                                              monkeypatch):
    X, truth = network
    t = truth.assign(world="1")
    path = tmp_path / "knowledge.parquet"
    before = registry.schema_hash()
    write_knowledge(path, X, t, [1.0] * len(t), {"schema_hash": before})
    assert len(read_knowledge(path, names, before)) == len(t)
    CHANGES[change](monkeypatch)
    after = registry.schema_hash()
    with pytest.raises(InputError) as e:
        read_knowledge(path, names, after)
    assert str(e.value) == (f"{path}: computed with feature schema {before[:12]}, this simbox has "
                            f"{after[:12]}; rebuild the default model (python -m "
                            "simbox.training.build_default_model) or train with --no-simulated")
