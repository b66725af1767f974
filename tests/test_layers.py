"""The layering of ../shared/DESIGN.md, as the code keeps it (a static import scan).

Data flows one way: fastpath (kernels, readers) <- features <- training <- simbox (the
product surface).  The leaf modules import nothing of the project and every layer may
use them.  Amended in session 5 (see the closing note): `data` (the simulator) uses the
event contract of `fastpath`; `training` uses fastpath kernels (tree scoring, machine
facts) and, for the default model's knowledge only, the simulator (`data`).
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LEAVES = {"simbox.errors", "simbox.progress", "simbox._version", "simbox.pages",
          "simbox.plotting"}
ALLOWED = {
    "fastpath": {"fastpath"},
    "features": {"features", "fastpath"},
    "data": {"data", "fastpath"},
    "training": {"training", "features", "fastpath", "data"},
}


def _layer(module):
    parts = module.split(".")
    if module in LEAVES or any(module.startswith(leaf + ".") for leaf in LEAVES):
        return "leaf"
    if len(parts) > 1 and parts[1] in ("fastpath", "features", "training", "data"):
        return parts[1]
    return "simbox"


def _imports(path):
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            yield from (a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            yield n.module


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_imports_upwards(layer):
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for mod in _imports(path):
            if mod.split(".")[0] != "simbox":
                continue
            to = _layer(mod)
            if to != "leaf" and to not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_only_the_default_model_builder_reaches_the_simulator_from_training():
    users = {p.name for p in (ROOT / "training").rglob("*.py")
             if any(_layer(m) == "data" for m in _imports(p))}
    assert users <= {"build_default_model.py"}


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_nothing_of_the_project(leaf):
    path = ROOT / "simbox" / (leaf.split(".")[1] + ".py")
    assert not [m for m in _imports(path) if m.split(".")[0] == "simbox"]
