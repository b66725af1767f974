"""The alert rules (new, escalated, cleared), the alert line and the alert log."""
import json

import pandas as pd

from simbox.watch.alerts import ALERT_FIELDS, AlertLog, diff, line
from simbox.watch.store import Store


def _flagged(rows):
    return pd.DataFrame(rows, columns=["imsi", "class", "score", "deployment_id", "reasons",
                                       "first_seen", "main_site"])


T = pd.Timestamp("2026-03-01T10:00:00Z")


def test_new_escalated_cleared():
    before = {"1": ("simbox", 0.80, 0.80, "D1", 5.0),      # class changes
              "2": ("simbox", 0.80, 0.70, "D1", 5.0),      # +0.1 over the score alerted
              "3": ("simbox", 0.80, 0.80, "D1", 5.0),      # +0.05: no alert
              "4": ("cardfarm", 0.90, 0.90, "D2", 5.0)}    # not flagged now
    now = _flagged([["1", "cardfarm", 0.81, "D1", "a", T, "S1"],
                    ["2", "simbox", 0.80, "D1", "b", T, "S1"],
                    ["3", "simbox", 0.85, "D1", "c", T, "S1"],
                    ["5", "simbox", 0.95, "D3", "d", T, "S2"]])
    flags, alerts = diff(before, now, network_time=1772359200, now=1772360000.0)
    assert [(a["imsi"], a["state"]) for a in alerts] == [
        ("5", "new"), ("1", "escalated"), ("2", "escalated"), ("4", "cleared")]
    assert alerts[0] == {"imsi": "5", "class": "simbox", "score": 0.95, "reasons": "d",
                         "deployment": "D3", "site": "S2", "first_seen": "2026-03-01T10:00:00Z",
                         "alerted_at": "2026-03-01T10:13:20Z",
                         "network_time": "2026-03-01T10:00:00Z", "state": "new"}
    assert alerts[3]["score"] is None and alerts[3]["class"] == "cardfarm"
    assert flags["3"] == ("simbox", 0.85, 0.80, "D1", 5.0)     # score alerted kept
    assert flags["2"][2] == 0.80 and flags["5"][4] == 1772360000.0
    assert list(json.loads(line(alerts[0]))) == list(ALERT_FIELDS)


def test_alert_log_cuts_a_partial_line_and_appends_the_rest(tmp_path):
    st = Store(tmp_path / "st")
    try:
        st.record_alerts({}, ['{"a": 1}', '{"a": 2}', '{"a": 3}'])
        path = tmp_path / "alerts.jsonl"
        path.write_text('{"a": 1}\n{"a"')
        assert AlertLog(path).flush(st) == ['{"a": 2}', '{"a": 3}']
        assert path.read_text() == '{"a": 1}\n{"a": 2}\n{"a": 3}\n'
        assert AlertLog(path).flush(st) == []
    finally:
        st.close()


def test_a_url_that_is_not_http_is_refused():
    import pytest
    from simbox.errors import ConfigError
    from simbox.watch import url_hook
    with pytest.raises(ConfigError, match="^--on-alert-url 'ftp://x': give an http:// or "
                                          "https:// URL$"):
        url_hook("ftp://x")
