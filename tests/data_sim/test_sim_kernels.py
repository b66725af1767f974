"""The simulator's vectorised helpers against slow, obviously-correct references."""
import datetime as dt

import numpy as np
from hypothesis import given, settings, strategies as st

from simbox.data.fraud import _schedule_bank
from simbox.data.registry import push_back as _push_back
from simbox.data.identities import luhn_digit, make_imeis
from simbox.data.population import split_counts
from simbox.data.registry import expand, rank_in_group
from simbox.data.writers import _digits, _timestamps
from simbox.fastpath.events import decode_digits


def push_back_reference(port, t, occupy, gap):
    out = []
    free = {}
    for p, ti, o, g in zip(port, t, occupy, gap):
        start = max(int(ti), free.get(p, -10**18))
        out.append(start)
        free[p] = start + int(o) + int(g)
    return np.array(out, np.int64)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5000), st.integers(0, 400),
                          st.integers(1, 60)), max_size=60))
def test_push_back_matches_a_sequential_port(rows):
    rows.sort(key=lambda r: (r[0], r[1]))
    port = np.array([r[0] for r in rows], np.int64)
    t = np.array([r[1] for r in rows], np.int64)
    occ = np.array([r[2] for r in rows], np.int64)
    gap = np.array([r[3] for r in rows], np.int64)
    assert np.array_equal(_push_back(port, t, occ, gap), push_back_reference(port, t, occ, gap))


@given(st.lists(st.integers(0, 5), max_size=50))
def test_rank_in_group(keys):
    keys = np.sort(np.array(keys, np.int64))
    expected, last, r = [], None, 0
    for k in keys:
        r = r + 1 if k == last else 0
        last = k
        expected.append(r)
    assert list(rank_in_group(keys)) == expected


@given(st.lists(st.lists(st.integers(0, 4), min_size=3, max_size=3), min_size=1, max_size=5))
def test_expand(counts):
    c = np.array(counts)
    pos, day = expand(c)
    expected = [(i, d) for i in range(c.shape[0]) for d in range(3) for _ in range(c[i, d])]
    assert list(zip(pos, day)) == expected


def luhn_reference(body14: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(body14)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


@given(st.integers(10_000_000, 99_999_999), st.integers(0, 999_999))
def test_imei_luhn(tac, serial):
    body = f"{tac:08d}{serial:06d}"
    assert luhn_digit(np.array([int(body)]))[0] == luhn_reference(body)
    code = make_imeis(np.array([tac]), np.array([serial]))[0]
    assert decode_digits(code) == body + str(luhn_reference(body))


@given(st.lists(st.integers(0, 4_102_444_799), max_size=40))
def test_timestamps_are_iso_utc(times):
    got = _timestamps(np.array(times, np.int64)).to_pylist()
    want = [dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for t in times]
    assert got == want


@given(st.lists(st.text("0123456789", max_size=18), max_size=30))
def test_digits_strings(strings):
    codes = np.array([int("1" + s) if s else 0 for s in strings], np.int64)
    assert _digits(codes).to_pylist() == strings


@given(st.integers(0, 10_000), st.dictionaries(st.sampled_from("abcdef"),
                                               st.floats(0.01, 10), min_size=1))
def test_split_counts_sum_and_proportion(total, weights):
    order = sorted(weights)
    counts = split_counts(total, weights, order)
    assert sum(counts.values()) == total
    w = sum(weights.values())
    for k, c in counts.items():
        assert abs(c - total * weights[k] / w) < 1 + 1e-9


@settings(max_examples=30)
@given(st.integers(1, 16), st.integers(1, 5), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_bank_schedule_puts_each_sim_on_one_port_at_a_time(ports, factor, slots, seed):
    pool = ports * factor
    table = _schedule_bank(np.random.default_rng(seed), ports, pool, 0, 60, slots)
    assert table.shape == (slots, ports)
    for row in table:
        assert len(set(row)) == ports and row.min() >= 0 and row.max() < pool
    if slots >= factor:
        assert set(table[:factor].ravel()) == set(range(pool))   # every SIM gets air time


def test_csv_writer_matches_a_plain_python_writer():
    from simbox.data import build_network
    from simbox.data.writers import cdr_csv_bytes
    from simbox.fastpath.events import RECORD_TYPE_NAMES, decode_digits
    net = build_network(300, 1, "baseline", 1)
    c = net.cdrs
    tokens = list(net.cells["cell_id"])
    lines = []
    for i in range(len(c)):
        t = dt.datetime.fromtimestamp(int(c.time[i]), dt.timezone.utc)
        lines.append(",".join([RECORD_TYPE_NAMES[c.rtype[i]], t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               decode_digits(c.imsi[i]), decode_digits(c.imei[i]),
                               decode_digits(c.msisdn[i]), decode_digits(c.other[i]),
                               str(int(c.duration[i])), tokens[c.cell[i]]]) + "\n")
    assert cdr_csv_bytes(net, 0, len(c)) == "".join(lines).encode()
    assert cdr_csv_bytes(net, 5, 9) == "".join(lines[5:9]).encode()
