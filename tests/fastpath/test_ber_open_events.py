"""BER files through simbox.fastpath.readers.open_events: detected by content (plain, gzip,
file objects, folders mixed with CSV) and giving the same events as the CSV of the same events."""
import gzip
import io

import numpy as np
import pandas as pd

from simbox.fastpath import CellDict, ReadStats
from simbox.fastpath.events import COLUMN_NAMES, EventBatch
from simbox.fastpath.readers import detect_format, open_events

from ber_helpers import ber_bytes, raw_records, sample_events


def contract_csv(ev: pd.DataFrame) -> bytes:
    out = ev.copy()
    out["start_time"] = pd.to_datetime(out.start_time, unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    cols = ["record_type", "start_time", "imsi", "imei", "msisdn", "other_party", "duration_s", "cell_id"]
    return out[cols].to_csv(index=False).encode()


def events_of(inputs, cells=None):
    cells = cells if cells is not None else CellDict()
    stats = ReadStats()
    b = EventBatch.concat(open_events(inputs, cells=cells, stats=stats))
    df = b.to_pandas(cells)
    return df, stats


def test_ber_and_csv_give_the_same_events(tmp_path):
    ev = sample_events(400, seed=3)
    ev = ev[ev.start_time < 4102444800]
    (tmp_path / "cdrs.cdr").write_bytes(ber_bytes(ev, utc_offset_minutes=480))
    (tmp_path / "cdrs.csv").write_bytes(contract_csv(ev))
    from_ber, s1 = events_of(str(tmp_path / "cdrs.cdr"))
    from_csv, s2 = events_of(str(tmp_path / "cdrs.csv"))
    pd.testing.assert_frame_equal(from_ber, from_csv)
    assert (s1.records, s1.accepted, s1.rejected_total) == (s2.records, s2.accepted, s2.rejected_total)
    assert s1.rejected_total > 0   # the 14-digit IMSIs, rejected by both readers


def test_detected_by_content_plain_gzip_raw_and_file_objects(tmp_path):
    data = ber_bytes(sample_events(3))
    (tmp_path / "a.bin").write_bytes(data)
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(data))       # the name says CSV: content wins
    (tmp_path / "c").write_bytes(raw_records(data))
    (tmp_path / "d.csv").write_bytes(contract_csv(sample_events(3)))
    for f in ("a.bin", "b.csv.gz", "c"):
        assert detect_format(str(tmp_path / f)).name == "ber"
    assert detect_format(str(tmp_path / "d.csv")).name == "csv"
    df, stats = events_of(str(tmp_path))
    assert stats.files == 4 and stats.accepted == 12 and stats.rejected_total == 0
    assert list(df.other_party[:3]) == ["0049301234", "10086", "8613800000002"]
    df2, _ = events_of([io.BytesIO(gzip.compress(data)), io.BytesIO(data)])
    assert len(df2) == 6
    assert list(df2.record_type.astype(str)) == ["MOC", "SMS_MO", "MTC"] * 2


def test_sources_and_cells_shared(tmp_path):
    data = ber_bytes(sample_events(3))
    (tmp_path / "x.cdr").write_bytes(data)
    cells = CellDict(["46000-1-1"])
    batches = list(open_events([str(tmp_path / "x.cdr")], cells=cells))
    assert batches[0].source == str(tmp_path / "x.cdr")
    assert cells.tokens == ["46000-1-1", "46000-1234-56789"]
    assert np.all(batches[0].cell == 1)
    assert set(COLUMN_NAMES) == set(batches[0].columns())
