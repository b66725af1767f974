import json

import pytest

from simbox.data.config import SPEC, Config, describe, load_config
from simbox.errors import ConfigError


def test_every_parameter_is_documented():
    rows = describe()
    assert len(rows) == sum(len(p) for p in SPEC.values())
    for name, default, meaning in rows:
        assert meaning and len(meaning) > 10, name


def test_defaults_and_attribute_access():
    cfg = Config()
    assert cfg.fraud.share == 0.01
    assert cfg["call_centre"].profile == "business"
    assert cfg.run.timezone == "Asia/Shanghai"
    with pytest.raises(AttributeError):
        cfg.fraud.share = 0.5


def test_json_and_toml_override(tmp_path):
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"fraud": {"share": 0.02}, "call_centre": {"moc_per_day": 220}}))
    cfg = load_config(j)
    assert cfg.fraud.share == 0.02 and cfg.call_centre.moc_per_day == 220.0
    t = tmp_path / "c.toml"
    t.write_text('[run]\ntimezone = "Europe/Rome"\n[cardfarm]\nsims = [10, 20]\n')
    cfg = load_config(t)
    assert cfg.run.timezone == "Europe/Rome" and tuple(cfg.cardfarm.sims) == (10, 20)
    # untouched values keep their defaults
    assert cfg.fraud.share == 0.01


@pytest.mark.parametrize("over, message", [
    ({"fraud": {"shar": 0.1}}, "c.json: unknown key fraud.shar (did you mean 'share'?)"),
    ({"frod": {}}, "c.json: unknown section 'frod' (did you mean 'fraud'?)"),
    ({"fraud": {"share": "high"}}, "c.json: fraud.share: expected a number, got 'high'"),
    ({"fraud": {"share": 1.5}}, "c.json: fraud.share: expected a share between 0 and 1, got 1.5"),
    ({"cardfarm": {"sims": [50]}}, "c.json: cardfarm.sims: expected a [low, high] pair, got [50]"),
    ({"cardfarm": {"sims": [60, 50]}}, "c.json: cardfarm.sims: expected low <= high, got [60, 50]"),
    ({"legit": {"shares": {"ordinary": 1, "pilot": 1}}},
     "c.json: legit.shares: unknown kind 'pilot'"),
    ({"fraud": {"mix_mixed": {"ordinary": 1}}},
     "c.json: fraud.mix_mixed: kind 'ordinary' does not belong here"),
    ({"run": {"timezone": "Mars/Olympus"}},
     "c.json: run.timezone: unknown time zone 'Mars/Olympus' (use an IANA name such as "
     "'Asia/Shanghai')"),
])
def test_bad_config_messages(tmp_path, over, message):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(over))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"{p.parent}/{message}"


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.json")
    p = tmp_path / "bad.toml"
    p.write_text("[run\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_docs_list_every_parameter():
    import pathlib
    from simbox.data.config import markdown_table
    doc = pathlib.Path(__file__).parents[2] / "docs" / "simulator.md"
    text = doc.read_text(encoding="utf-8")
    assert markdown_table() in text, "docs/simulator.md parameter table is stale: " \
        "paste `python -m simbox.data.plot_docs --params`"


@pytest.mark.parametrize("over, message", [
    ({"ordinary": {"profile": "nocturnal"}},
     "ordinary.profile: unknown profile 'nocturnal'; choose one of resident, business, driver, "
     "flat, intl_wave"),
    ({"run": {"start_date": "March 2"}},
     "run.start_date: expected a date like 2026-03-02, got 'March 2'"),
    ({"run": {"mcc_mnc": "4600"}}, "run.mcc_mnc: expected 5 or 6 digits, got '4600'"),
    ({"run": {"country_code": "+86"}}, "run.country_code: expected digits, got '+86'"),
])
def test_bad_values_are_named(over, message):
    with pytest.raises(ConfigError) as e:
        Config(over)
    assert str(e.value) == f"<overrides>: {message}"


def test_other_city_time_zone_and_carrier():
    from simbox.data import build_network
    from simbox.fastpath.events import decode_array
    net = build_network(800, 2, "mixed", 1, config={"run": {
        "timezone": "Europe/Rome", "mcc_mnc": "222010", "country_code": "39",
        "start_date": "2026-03-28"}})     # the window crosses the switch to summer time
    imsi = decode_array(net.cdrs.imsi[:100])
    assert all(len(s) == 15 and s.startswith("222010") for s in imsi)
    assert all(s.startswith("39") for s in decode_array(net.cdrs.msisdn[:100]))
    assert net.start == 1774652400          # 2026-03-28 00:00 CET = 23:00 UTC the day before
    assert net.end == 1774821600            # 2026-03-30 00:00 CEST = 22:00 UTC the day before
    assert net.cells["cell_id"].str.startswith("222010-").all()


def test_every_parameter_is_used(small):
    """No dead parameter: building each scenario reads every one of them."""
    from simbox.data import build_network
    used = set()
    shares = dict(small["legit"]["shares"], cloned_imei=0.01)     # a world kind
    for scenario in ("baseline", "evasive", "mixed"):
        cfg = Config(dict(small, legit={"shares": shares}))
        build_network(3000, 2, scenario, 1, config=cfg)
        used |= cfg.used
    assert sorted(set(name for name, _, _ in describe()) - used) == []
