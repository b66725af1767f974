"""Many worlds: drawn configurations, the train / held-out split, simulate_world and --world."""
import ast
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simbox.cli import main
from simbox.data.config import Config, load_config
from simbox.data.worlds import (HELDOUT_FIRST, build_world, heldout_worlds, simulate_world,
                                split_of, training_worlds, world_config)
from simbox.errors import ConfigError
from simbox.fastpath.events import decode_array

DATA = pathlib.Path(__file__).parents[2] / "data"


def test_world_configs_validate_and_are_deterministic():
    # held-out worlds are only drawn here (validated), never simulated by the tests
    for w in list(range(25)) + list(range(HELDOUT_FIRST, HELDOUT_FIRST + 10)):
        a = world_config(w)
        assert a == world_config(w)
        Config(a)                                            # validates
        assert json.loads(json.dumps(a)) == a                # JSON-ready


def test_worlds_differ_in_mix_behaviour_city_and_fraud():
    confs = [world_config(w) for w in range(12)]
    for section, key in [("legit", "shares"), ("call_centre", "moc_per_day"),
                         ("run", "start_date"), ("fraud", "share"), ("fraud", "mix_mixed"),
                         ("simbox", "attempts_per_port_hour")]:
        values = [json.dumps(c[section][key], sort_keys=True) for c in confs]
        assert len(set(values)) >= 6, (section, key)
    assert len({c["run"]["timezone"] for c in confs}) >= 4
    # some worlds lack a hard-negative kind, others have several times the default share
    shares = [c["legit"]["shares"] for c in [world_config(w) for w in range(40)]]
    assert any(s["call_centre"] == 0 for s in shares)
    assert any(s["call_centre"] > 2.5 * 0.01 for s in shares)
    # every world has at least one SIM-box kind and one card-farm kind
    for c in confs:
        mix = c["fraud"]["mix_mixed"]
        assert any(v > 0 for k, v in mix.items() if k.startswith("simbox"))
        assert any(v > 0 for k, v in mix.items() if k.startswith("cardfarm"))


def test_split_training_and_held_out():
    assert split_of(0) == split_of(999) == "training"
    assert split_of(1000) == split_of(123456) == "held-out"
    assert training_worlds(3, 10) == [10, 11, 12]
    assert heldout_worlds(2) == [1000, 1001]
    with pytest.raises(ConfigError, match="reach the held-out worlds"):
        training_worlds(10, 995)
    with pytest.raises(ConfigError, match="held-out worlds start at 1000"):
        heldout_worlds(2, 5)
    with pytest.raises(ConfigError, match="world must be >= 0"):
        world_config(-1)


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_simulate_world_is_reproducible_from_its_world_json(tmp_path):
    res = simulate_world(33, 1500, 2, out=tmp_path / "a")
    doc = json.loads((tmp_path / "a" / "world.json").read_text())
    assert doc["world"] == 33 and doc["split"] == "training" and doc["seed"] == 33
    assert doc["config"] == world_config(33)
    assert res.network.world == 33 and res.network.summary()["world"] == 33
    assert res.network.timezone == doc["config"]["run"]["timezone"]
    # the same world again, and the world.json as a plain configuration file
    simulate_world(33, 1500, 2, out=tmp_path / "b")
    from simbox.data import simulate
    simulate(1500, 2, "mixed", 33, tmp_path / "c", config=tmp_path / "a" / "world.json")
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    c["world.json"] = a["world.json"]
    assert a == c
    assert load_config(tmp_path / "a" / "world.json").run.timezone == doc["config"]["run"][
        "timezone"]


def test_simulate_command_world(tmp_path, capsys):
    out = tmp_path / "w"
    cfg = tmp_path / "c.json"
    cfg.write_text('{"fraud": {"share": 0.02}}')
    rc = main(["simulate", "--subscribers", "800", "--days", "1", "--world", "5", "--out",
               str(out), "--config", str(cfg), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["world"] == 5 and s["seed"] == 5 and s["files"]["world"].endswith("world.json")
    doc = json.loads((out / "world.json").read_text())
    assert doc["config"]["fraud"]["share"] == 0.02            # --config overrides the world
    assert doc["config"]["run"]["timezone"] == world_config(5)["run"]["timezone"]
    rc = main(["simulate", "--subscribers", "300", "--days", "1", "--world", "5",
               "--scenario", "evasive", "--out", str(tmp_path / "x")])
    assert rc == 1
    assert "--scenario does not go with --world" in capsys.readouterr().err


def test_build_world_in_memory_matches_the_written_world(tmp_path):
    net = build_world(7, 1200, 2, seed=3)
    res = simulate_world(7, 1200, 2, seed=3, out=tmp_path)
    assert len(net.cdrs) == len(res.network.cdrs)
    assert net.truth.equals(res.network.truth)


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_simulator_never_imports_the_detector():
    """Neither in its source nor at run time: the simulator cannot be tuned to the model."""
    for path in sorted(DATA.glob("*.py")):
        for name in _imports(path):
            assert not name.startswith(("simbox.training", "simbox.features")), (path.name, name)
    code = ("import sys; from simbox.data.worlds import build_world; build_world(2, 400, 1); "
            "bad = [m for m in sys.modules if m.startswith(('simbox.training', "
            "'simbox.features'))]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_docs_list_how_worlds_are_drawn():
    from simbox.data.worlds import ranges_table
    doc = pathlib.Path(__file__).parents[2] / "docs" / "simulator.md"
    assert ranges_table() in doc.read_text(encoding="utf-8"), \
        "docs/simulator.md world table is stale: paste `python -m simbox.data.plot_docs --worlds`"


def test_some_worlds_feed_their_farms_from_a_sim_bank():
    """Worlds draw modem pools with a SIM per port, multi-card modems, and modems behind a
    SIM bank (32-256 SIMs each): a farm's count of IMSIs per IMEI spans 1 to hundreds."""
    from simbox.data.worlds import BANK_POOL_SIMS
    per_modem = [world_config(w)["cardfarm"]["sims_per_modem"] for w in range(40)]
    assert any(hi <= 4 for lo, hi in per_modem)
    assert any(lo < BANK_POOL_SIMS[0] and hi > 4 for lo, hi in per_modem)
    banked = [w for w, (lo, hi) in enumerate(per_modem) if lo >= BANK_POOL_SIMS[0]]
    assert 5 <= len(banked) <= 25
    assert all(hi <= BANK_POOL_SIMS[1] for lo, hi in per_modem)
    net = build_world(banked[0], 2000, 3, overrides={
        "fraud": {"share": 0.05, "mix_mixed": {"cardfarm_otp": 1.0}},
        "cardfarm": {"sims": [100, 100], "cycle_min": [5, 10]}})   # the bank goes round
    farm = net.truth[net.truth["class"] == "cardfarm"]
    c = net.cdrs
    on = np.isin(decode_array(c.imsi), farm["imsi"].to_numpy())
    sims = pd.DataFrame({"imei": c.imei[on], "imsi": decode_array(c.imsi[on])})
    assert sims.groupby("imei")["imsi"].nunique().max() >= BANK_POOL_SIMS[0]


def test_an_earlier_generator_draws_its_worlds_without_what_came_later():
    """Version 3 (the shipped model's worlds): no cloned IMEIs, no SIM banks, no thin spam;
    version 4 draws every other section as version 3 did (and the legit kinds' shares)."""
    from simbox.data.worlds import GENERATORS
    assert GENERATORS == (3, 4)
    for w in range(12):
        old, new = world_config(w, 3), world_config(w, 4)
        assert "cloned_imei" not in old and "cloned_imei" not in old["legit"]["shares"]
        assert old["cardfarm"]["sims_per_modem"][0] < 32
        shares = dict(new["legit"]["shares"])
        shares.pop("cloned_imei")
        assert old["legit"]["shares"] == shares   # drawn first: the others' shares as before
        assert old["cardfarm_spam"]["sms_mo_per_day"][0] >= 5   # never spread thin
        for section in set(old) - {"legit", "cardfarm", "cardfarm_spam"}:   # (their draws moved)
            assert old[section] == new[section], (w, section)
    with pytest.raises(ConfigError, match="generator version must be one of 3, 4, got 2"):
        world_config(1, 2)


def test_simulate_command_draws_an_earlier_generator(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["simulate", "--world", "3", "--generator", "3", "--subscribers", "300",
                 "--days", "1", "--out", str(out)]) == 0
    doc = json.loads((out / "world.json").read_text())
    assert doc["generator_version"] == 3 and doc["config"] == world_config(3, 3)
    assert main(["simulate", "--generator", "3", "--subscribers", "300", "--days", "1",
                 "--out", str(tmp_path / "x")]) == 1
    assert "--generator goes with --world" in capsys.readouterr().err


def test_some_worlds_spread_their_spam_thin():
    """A few SMS per SIM-day in small bursts in some worlds (under per-SIM volume rules),
    hundreds in the others."""
    from simbox.data.worlds import THIN_SPAM_PER_DAY
    rates = [world_config(w)["cardfarm_spam"] for w in range(40)]
    thin = [r for r in rates if r["sms_mo_per_day"][1] <= THIN_SPAM_PER_DAY[1]
            and r["burst_size"][1] <= 12]
    assert 5 <= len(thin) <= 25
    assert all(r["sms_mo_per_day"][0] >= THIN_SPAM_PER_DAY[0] for r in thin)
    assert max(r["sms_mo_per_day"][1] for r in rates) > 100


def test_every_kind_appears_across_a_handful_of_worlds():
    """Small networks (2,000 SIMs x 3 days): every kind shows up in some world, and the
    worlds differ in which ones they have."""
    from simbox.data.kinds import KIND_NAMES
    seen, per_world = set(), []
    for w in range(6):
        net = build_world(w, 2000, 3, overrides={"fraud": {"share": 0.04},
                                                 "cardfarm": {"sims": [8, 30]}})
        kinds = set(net.truth["kind"])
        seen |= kinds
        per_world.append(kinds)
    assert seen == set(KIND_NAMES)
    assert len({frozenset(k) for k in per_world}) == len(per_world)
