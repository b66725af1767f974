"""The registry drives the kernel column order, --list, the docs and the DataFrame."""
import pathlib

from simbox.fastpath.aggregate import SLOTS, slot_columns
from simbox.fastpath.events import CellDict, EventBatch
from simbox.features import REGISTRY, catalogue, feature_names, features_from_events, schema_hash
from simbox.features import post
from simbox.features.registry import ANCHOR_FEATURES, GROUPS, markdown

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_registry_size_and_anchor_names():
    assert len(REGISTRY) >= 35
    assert set(ANCHOR_FEATURES) <= set(feature_names())
    assert {f.group for f in REGISTRY} == set(GROUPS)
    for f in REGISTRY:
        assert f.name.isidentifier() and f.unit and len(f.meaning) > 10, f


def test_every_feature_has_exactly_one_implementation():
    names = set(feature_names())
    kernel, postf = set(SLOTS), set(post.POST)
    assert not kernel & postf
    assert names == kernel | postf, (names ^ (kernel | postf))
    assert {f.name for f in REGISTRY if f.source == "kernel"} == kernel
    assert {f.name for f in REGISTRY if f.source == "post"} == postf


def test_the_report_compares_the_features_the_registry_places():
    from simbox.features.registry import compared_features
    from simbox.report_plots import COMPARED_FEATURES
    places = [f.compare[0] for f in compared_features()]
    assert places == list(range(1, len(places) + 1)) and len(places) >= 4
    assert COMPARED_FEATURES == [(f.name, f.compare[1]) for f in compared_features()]


def test_kernel_writes_columns_in_the_order_it_is_given():
    names = feature_names()
    cols = slot_columns(names)
    for slot, c in zip(SLOTS, cols):
        assert names[c] == slot
    rev = slot_columns(list(reversed(names)))
    assert all(list(reversed(names))[c] == s for s, c in zip(SLOTS, rev))
    assert (slot_columns(["n_moc"]) >= 0).sum() == 1


def test_dataframe_columns_follow_the_registry():
    b = EventBatch({"rtype": [0, 1], "time": [10, 20], "imsi": [1460001, 1460002], "imei": [0, 0],
                    "msisdn": [0, 0], "other": [1123, 1123], "duration": [3, 0], "cell": [-1, -1]})
    res = features_from_events([b], CellDict())
    assert list(res.features.columns) == feature_names()
    assert [str(t) for t in res.features.dtypes] == [f.dtype for f in REGISTRY]
    assert list(res.features.index) == ["460001", "460002"]


def test_list_output_and_docs_derive_from_the_registry(capsys):
    from simbox.cli import main
    assert main(["features", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == catalogue()
    lines = [l for l in out.splitlines() if l and not l.startswith("[")]
    assert [l.split()[0] for l in lines] == feature_names()
    doc = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert doc == markdown(), "docs/features.md is stale: python -m simbox.features.make_docs"
    for f in REGISTRY:
        assert f"| `{f.name}` | {f.dtype} | {f.unit} | {f.meaning} |" in doc


def test_schema_hash_changes_with_the_registry():
    from simbox.features import registry
    h = schema_hash()
    assert len(h) == 16 and h == schema_hash()
    saved = registry.REGISTRY
    try:
        registry.REGISTRY = saved[:-1]
        assert registry.schema_hash() != h
    finally:
        registry.REGISTRY = saved


def test_schema_hash_covers_meanings_evidence_and_every_constant(monkeypatch):
    import dataclasses
    from simbox.fastpath import constants
    from simbox.features import registry
    h = schema_hash()
    seen = {h}
    for change in ({"meaning": "outgoing calls"}, {"evidence": ("n_mtc",)}, {"unit": "MOC"}):
        f = dataclasses.replace(registry.BY_NAME["n_moc"], **change)
        monkeypatch.setattr(registry, "REGISTRY", (f,) + registry.REGISTRY[1:])
        seen.add(registry.schema_hash())
        monkeypatch.undo()
    for name, value in constants.values().items():
        monkeypatch.setattr(constants, name, value + 1)
        seen.add(registry.schema_hash())
        monkeypatch.undo()
    assert schema_hash() == h and len(seen) == 4 + len(constants.values())


def test_constants_have_one_home():
    """The kernel and the post-processing compute with the numbers of fastpath/constants.py."""
    from simbox.fastpath import _aggregate, constants
    from simbox.features import comove
    from simbox.training import evidence
    used = _aggregate.constants_in_use()
    assert used == {k: constants.values()[k] for k in used}
    assert (comove.MATCH_S, comove.CROWD, comove.MIN_SHARED) == (
        constants.COMOVE_MATCH_S, constants.COMOVE_CROWD, constants.COMOVE_MIN_SHARED)
    assert post.NEIGHBOUR_DISTANCE == constants.NEIGHBOUR_DISTANCE
    assert evidence.MIN_EVENTS == constants.MIN_EVIDENCE
    assert evidence.EVIDENCE == {f.name: f.evidence for f in REGISTRY if f.evidence}
    # every constant is read by a kernel or a module that computes features
    others = {"COMOVE_MATCH_S", "COMOVE_CROWD", "COMOVE_MIN_SHARED", "NEIGHBOUR_DISTANCE",
              "MIN_EVIDENCE"}
    assert set(constants.values()) == set(used) | others
    for f in REGISTRY:
        assert set(f.evidence) <= set(feature_names()) and f.name not in f.evidence, f
