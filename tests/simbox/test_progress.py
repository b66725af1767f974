import io

from simbox.fastpath.readers import open_events
from simbox.progress import NO_PROGRESS, Bar, as_progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_none_is_the_no_op():
    assert as_progress(None) is NO_PROGRESS
    NO_PROGRESS.stage("x", total=3, unit="rows")
    NO_PROGRESS(1, total=3)
    NO_PROGRESS.finish()


def test_bar_is_quiet_without_a_terminal_or_with_the_switch(monkeypatch):
    monkeypatch.delenv("SIMBOX_NO_PROGRESS", raising=False)
    quiet = io.StringIO()
    bar = Bar("reading", stream=quiet)
    bar.stage("reading", total=10)
    bar(10)
    bar.finish()
    assert quiet.getvalue() == ""
    assert Bar("x", stream=Tty()).enabled
    monkeypatch.setenv("SIMBOX_NO_PROGRESS", "1")
    assert not Bar("x", stream=Tty()).enabled


def test_bar_draws_stages_and_totals():
    out = Tty()
    bar = Bar("reading", stream=out, enabled=True)
    bar(0, total=100)
    bar(40)
    bar.stage("scoring", total=3, unit="SIMs")
    bar(3)
    bar.finish()
    text = out.getvalue()
    assert "reading" in text and "40/100" in text and "scoring" in text and "SIMs" in text


def test_open_events_keeps_one_total_over_its_files(tmp_path):
    from simbox.fastpath.readers import _Files
    data = (b"record_type,start_time,imsi,imei,msisdn,other_party,duration_s,cell_id\n"
            b"MOC,2026-03-01T12:00:05Z,460001234567890,,8613800000000,8613900000000,30,c1\n")
    (tmp_path / "a.csv").write_bytes(data)
    (tmp_path / "b.csv").write_bytes(data)
    seen = []
    list(open_events([tmp_path / "a.csv", tmp_path / "b.csv"],
                     progress=lambda n, total=None: seen.append((n, total))))
    assert seen[0] == (0, 2 * len(data))
    assert {t for _, t in seen} == {2 * len(data)}       # not each file's own size
    assert sum(n for n, _ in seen) == 2 * len(data)
    # a stream (no size up front) adds the total its reader reports, once
    seen = []
    files = _Files(lambda n, total=None: seen.append((n, total)), [str(tmp_path / "a.csv"), io.BytesIO()])
    stream = files.of(io.BytesIO())
    stream(10, total=100)
    stream(90, total=100)
    assert seen == [(0, len(data)), (10, len(data) + 100), (90, len(data) + 100)]
