"""The CSV row kernel against the standard library's csv writer (the reference)."""
import csv
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbox.fastpath import csvwrite
from simbox.fastpath.csvwrite import BOOL, FLOAT, INT, TEXT, TIME, csv_chunks, time_column

TEXT_VALUES = st.text(alphabet=st.sampled_from(list('ab,"\n\t =é日;1.\'')), max_size=6)
FLOATS = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 0.1235, 1e-7, 5e-324, 1e300]),
                   # scores rounded to 4 decimals (the kernel writes them from their integer)
                   st.integers(-10**10, 10**10).map(lambda u: u / 10**4),
                   st.floats(-1e6, 1e6).map(lambda v: round(v, 4)))


def reference(columns, kinds):
    texts = []
    for c, k in zip(columns, kinds):
        if k == FLOAT:
            texts.append(["%.10g" % v if v == v else "" for v in c.tolist()])
        elif k in (INT, BOOL):
            texts.append([str(v) for v in (c.astype(bool) if k == BOOL else c).tolist()])
        else:
            texts.append(c)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(zip(*texts))
    return out.getvalue().encode("utf-8")


@st.composite
def tables(draw):
    n = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from([TEXT, FLOAT, INT, BOOL]), min_size=1, max_size=5))
    cols = []
    for k in kinds:
        if k == FLOAT:
            cols.append(np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float))
        elif k == INT:
            cols.append(np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n,
                                               max_size=n)), dtype=np.int64))
        elif k == BOOL:
            cols.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                                 dtype=bool).view(np.uint8))
        else:
            cols.append(draw(st.lists(TEXT_VALUES, min_size=n, max_size=n)))
    return cols, kinds


@settings(max_examples=200, deadline=None)
@given(table=tables(), chunk=st.integers(1, 5))
def test_bytes_equal_the_csv_module(table, chunk):
    columns, kinds = table
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvwrite, "CHUNK_ROWS", chunk)        # rows cut into chunks
        got = list(csv_chunks(columns, kinds))
    assert None not in got
    assert b"".join(got) == reference(columns, kinds)


@pytest.mark.parametrize("value", ["a\rb", 5, None, np.str_("x")])
def test_texts_left_to_the_csv_module(value):
    assert list(csv_chunks([["ok", value]], [TEXT])) == [None]


def test_columns_of_another_kind_or_length_are_refused():
    with pytest.raises(ValueError, match="column 1: not 2 values of kind 1"):
        list(csv_chunks([["a", "b"], np.zeros(3)], [TEXT, FLOAT]))
    with pytest.raises(ValueError, match="column 0: not 1 values of kind 2"):
        list(csv_chunks([np.zeros(1)], [INT]))


# seconds of the years 1-9999 and beyond (the kernel leaves those to the caller: None)
SECONDS = st.one_of(st.integers(-62135596800 - 86400, 253402300799 + 86400),
                    st.integers(-2**62, 2**62), st.sampled_from([0, -1, 86399, 86400, -86401]))


@settings(max_examples=300, deadline=None)
@given(seconds=st.lists(SECONDS, min_size=1, max_size=8), nat=st.booleans())
def test_times_are_numpys_iso_texts(seconds, nat):
    """A TIME column: numpy's datetime_as_string (unit s) and a Z, NaT empty (the reference
    of simbox.outputs.iso_times); None when a year is outside 1-9999."""
    values = np.array(seconds, dtype=np.int64).view("datetime64[s]")
    if nat:
        values = np.append(values, np.datetime64("NaT", "s"))
    col = time_column(values)
    got = list(csv_chunks([col], [TIME]))
    texts = [("" if str(t) == "NaT" else t + "Z") for t in np.datetime_as_string(values, unit="s")]
    years = [int(t[:len(t) - 16]) for t in texts if t]     # (-MM-DDTHH:MM:SSZ)
    if any(y < 1 or y > 9999 for y in years):
        assert got[-1] is None
    else:
        assert b"".join(got) == reference([texts], [TEXT])


@settings(max_examples=200, deadline=None)
@given(base=SECONDS, steps=st.lists(st.one_of(st.integers(-3 * 86400, 3 * 86400),
                                              st.sampled_from([0, 1, -1, 86400, -86400]),
                                              st.none()), min_size=1, max_size=12))
def test_times_of_a_few_days_reuse_the_date_rightly(base, steps):
    """Runs of times of one day, NaT between them, days back and forth: the kernel keeps a
    column's last date from row to row; the texts are still numpy's."""
    seconds = [np.iinfo(np.int64).min if s is None else base + s for s in steps]
    values = np.array(seconds, dtype=np.int64).view("datetime64[s]")
    got = list(csv_chunks([time_column(values)] * 2, [TIME, TIME]))
    texts = [("" if str(t) == "NaT" else t + "Z") for t in np.datetime_as_string(values, unit="s")]
    years = [int(t[:len(t) - 16]) for t in texts if t]
    if any(y < 1 or y > 9999 for y in years):
        assert got[-1] is None
    else:
        assert b"".join(got) == reference([texts, texts], [TEXT, TEXT])


def test_time_column_floors_to_seconds():
    ns = np.array([-1, 999_999_999, -1_000_000_001], dtype=np.int64).view("datetime64[ns]")
    assert b"".join(csv_chunks([time_column(ns)], [TIME])) == \
        b"1969-12-31T23:59:59Z\n1970-01-01T00:00:00Z\n1969-12-31T23:59:58Z\n"


JSON_TEXTS = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('ab,"\\\n\t\x00 é日[]{}:1')),
                                          max_size=6))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_json_text_equals_json_dumps(data):
    """The kernel's JSON rows against ``json.dumps`` (the reference), texts with and without
    escapes (then json.dumps writes them), integers with nulls."""
    import json
    n = data.draw(st.integers(0, 8))
    kinds = data.draw(st.lists(st.sampled_from(["text", "int"]), min_size=1, max_size=5))
    cols, nulls, rows = [], [], []
    for k in kinds:
        if k == "text":
            c = data.draw(st.lists(JSON_TEXTS, min_size=n, max_size=n))
            cols.append(c)
            nulls.append(None)
            rows.append(c)
        else:
            v = np.array(data.draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n,
                                            max_size=n)), dtype=np.int64)
            z = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
            cols.append(v)
            nulls.append(z)
            rows.append([None if m else int(x) for x, m in zip(v.tolist(), z.tolist())])
    want = json.dumps(list(zip(*rows)), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    assert csvwrite.json_text(cols, nulls) == want


def test_json_text_leaves_other_values_to_json_dumps():
    import json
    assert csvwrite.json_text([["a", 3], np.array([1, 2])]) == json.dumps(
        [["a", 1], [3, 2]], separators=(",", ":"))
    assert csvwrite.json_text([["\ud800"]]) == json.dumps([["\ud800"]], ensure_ascii=False)
    with pytest.raises(ValueError, match="column 1: not 2 values"):
        csvwrite.json_text([["a", "b"], np.array([1])])


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), TEXT_VALUES), max_size=12),
       large=st.booleans(), cut=st.integers(0, 3), chunk=st.integers(1, 5))
def test_arrow_texts_equal_the_csv_module(values, large, cut, chunk):
    """A text column read from its Arrow buffers (``string`` and ``large_string``, a slice of
    a larger array, nulls) against the csv module writing the same values (None empty);
    a carriage return leaves the table to the csv module (None)."""
    import pyarrow as pa
    whole = pa.array(["x"] * cut + values + ["y"], type=pa.large_string() if large else pa.string())
    column = csvwrite.arrow_text(whole.slice(cut, len(values)))
    ints = np.arange(len(values), dtype=np.int64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvwrite, "CHUNK_ROWS", chunk)
        got = list(csv_chunks([column, ints], [csvwrite.ARROW, INT]))
        alone = list(csv_chunks([column], [csvwrite.ARROW]))
    texts = ["" if v is None else v for v in values]
    if any("\r" in t for t in texts):
        assert got[-1] is None and alone[-1] is None
        return
    assert b"".join(got) == reference([texts, ints], [TEXT, INT])
    assert b"".join(alone) == reference([texts], [TEXT])


def test_arrow_columns_are_checked():
    import pyarrow as pa
    data, offsets, valid = csvwrite.arrow_text(pa.array(["ab", "c"]))
    for bad in ((data, offsets[::-1].copy(), valid), (data, offsets + 5, valid),
                (data, offsets, valid[:1].copy()), (data, offsets.astype(np.int32), valid)):
        with pytest.raises(ValueError, match=r"column 0: not [12] values of kind 5"):
            list(csv_chunks([bad, np.arange(2, dtype=np.int64)], [csvwrite.ARROW, INT]))
    with pytest.raises(ValueError, match="not an Arrow text array"):
        csvwrite.arrow_text(pa.array([1, 2]))


def near_ties(rng, n):
    """Doubles at and beside the middle of two 10-digit decimals, and beside powers of ten:
    where a fixed-notation ``%.10g`` must round as the correctly rounded one does."""
    k = rng.integers(10**9, 10**10, n)
    e = rng.integers(-15, 10, n)
    mid = (k + 0.5) * 10.0 ** (e - 9)
    tens = 10.0 ** rng.integers(-15, 10, n)
    return np.concatenate([mid, np.nextafter(mid, 0), np.nextafter(mid, np.inf), tens,
                           np.nextafter(tens, 0), np.nextafter(tens, np.inf),
                           tens * (1 - 5e-11), tens * (1 - 4.9e-11), tens * (1 - 5.1e-11)])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), precision=st.integers(1, 12),
       values=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=20))
def test_floats_equal_python_g_format(seed, precision, values):
    """Floats of every magnitude (fixed notation from their digits, the rest by Python) and
    doubles near ties and powers of ten against ``"%.{precision}g" % v``; NaN empty (a row
    of one empty field quoted, as the csv module writes it)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.array(values, dtype=float), rng.random(200),
                        10.0 ** rng.uniform(-16, 12, 200) * rng.choice([-1.0, 1.0], 200),
                        near_ties(rng, 100), [np.nan, 0.0, -0.0, 1e-4, 1e9, 0.5, 2.5, 1e-5,
                                              -1e-13, 1e-13, 9.99999999995e-5, 1.5e-14]])
    got = b"".join(csv_chunks([x], [FLOAT], precision=precision)).decode().split("\n")[:-1]
    want = [f"%.{precision}g" % v if v == v else '""' for v in x.tolist()]
    assert got == want


# ---- repeated texts as codes (CODES) ------------------------------------------------------

CODE_TEXTS = st.text(alphabet=st.sampled_from(list('ab,"\n\r =+-@é日\'')), max_size=5)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(0, 12), chunk=st.integers(1, 5), with_text=st.booleans(),
       alone=st.booleans())
def test_codes_equal_the_csv_module(data, n, chunk, with_text, alone):
    """A CODES column (codes -1..k-1 into k texts with commas, quotes, newlines, formula
    characters, other scripts, empty ones) beside numbers and times (the GIL released) or
    beside a list of str (the GIL held), against the csv module writing the texts the codes
    name (-1: empty); a carriage return in a text some row names leaves the table to the csv
    module (None), one no row names does not."""
    texts = data.draw(st.lists(CODE_TEXTS, max_size=4))
    codes = np.array(data.draw(st.lists(st.integers(-1, len(texts) - 1), min_size=n,
                                        max_size=n)), dtype=np.int64)
    column = csvwrite.codes_column(codes, texts)
    named = ["" if c < 0 else texts[c] for c in codes.tolist()]
    others = [np.arange(n, dtype=np.int64), np.linspace(-1.5, 2.5, n),
              time_column((np.arange(n) * 40000).astype("datetime64[s]"))]
    kinds = [INT, FLOAT, TIME]
    if with_text:
        others.append(data.draw(st.lists(TEXT_VALUES, min_size=n, max_size=n)))
        kinds.append(TEXT)
    columns, kinds = ([column], [csvwrite.CODES]) if alone else \
        ([others[0], column] + others[1:], [INT, csvwrite.CODES] + kinds[1:])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvwrite, "CHUNK_ROWS", chunk)
        got = list(csv_chunks(columns, kinds))
    if any("\r" in t for t in named):
        assert got[-1] is None
        return
    assert None not in got
    want = [named] if alone else [others[0], named] + [
        [t + "Z" for t in np.datetime_as_string(c.view("datetime64[s]"), unit="s").tolist()]
        if k == TIME else c for c, k in zip(others[1:], kinds[2:])]
    want_kinds = [TEXT] if alone else [INT, TEXT] + [TEXT if k == TIME else k for k in kinds[2:]]
    assert b"".join(got) == reference(want, want_kinds)


def test_codes_out_of_range_are_refused():
    column = csvwrite.codes_column(np.array([0, 2, -1]), ["a", "b"])
    with pytest.raises(ValueError, match=r"^column 1: code 2 in row 1 is not one of its 2 "
                                         r"texts \(0 to 1, or -1 for none\)$"):
        list(csv_chunks([np.arange(3, dtype=np.int64), column], [INT, csvwrite.CODES]))
    column = csvwrite.codes_column(np.array([-2]), ["a"])
    with pytest.raises(ValueError, match=r"^column 0: code -2 in row 0 is not one of its 1 "):
        list(csv_chunks([column], [csvwrite.CODES]))
    with pytest.raises(ValueError, match="column 1: not 2 values of kind 6"):
        list(csv_chunks([np.arange(2, dtype=np.int64), csvwrite.codes_column(np.array([0]), ["a"])],
                        [INT, csvwrite.CODES]))


def test_a_table_without_texts_of_python_is_written_without_the_gil():
    """Two threads write a large table each at once: with the GIL released by the kernel
    the bytes are those of one thread alone (no shared state between the calls)."""
    import threading
    n = 200_000
    cols = [np.arange(n, dtype=np.int64), np.linspace(0, 1, n),
            csvwrite.codes_column(np.arange(n) % 3, ["x", "y,z", ""])]
    kinds = [INT, FLOAT, csvwrite.CODES]
    alone = b"".join(csv_chunks(cols, kinds))
    out = [None, None]

    def write(i):
        out[i] = b"".join(csv_chunks(cols, kinds))
    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [alone, alone]


@pytest.mark.parametrize("kind", ["text", "arrow", "codes"])
def test_rows_longer_than_the_first_guess_grow_the_buffer(kind):
    """Rows far longer than the kernel's first guess of a row (16 bytes a field): the buffer
    grows, as many times as needed, and the bytes are still the csv module's."""
    import pyarrow as pa
    rng = np.random.default_rng(5)
    texts = ["".join(rng.choice(list('ab,"é日 \n'), int(k))) for k in rng.integers(0, 3000, 300)]
    if kind == "text":
        column, k = texts, TEXT
    elif kind == "arrow":
        column, k = csvwrite.arrow_text(pa.array(texts)), csvwrite.ARROW
    else:
        column, k = csvwrite.codes_column(np.arange(len(texts)), texts), csvwrite.CODES
    got = list(csv_chunks([column, np.arange(len(texts), dtype=np.int64)], [k, INT]))
    assert b"".join(got) == reference([texts, np.arange(len(texts))], [TEXT, INT])
    plain = [t.replace('"', "").replace("\n", "") for t in texts]   # (the JSON kernel's own)
    assert csvwrite.json_text([plain]) == __import__("json").dumps(
        [[t] for t in plain], ensure_ascii=False, separators=(",", ":"))
