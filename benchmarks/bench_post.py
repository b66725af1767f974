"""Time of each step of the post-processing (``features/post.py``) of one feature run.

Runs ``compute_features`` on one CDR file once, keeps the context handed to
``post.fill`` (per-IMSI columns, pair tables, moves), then times each step of the
post-processing on copies of it (CPU time, one thread) and prints a table::

    python benchmarks/bench_post.py CDRS.csv [--cells cells.csv] [--repeat 7]

Make the CDR file with ``benchmarks/gen_cdrs.py`` (or ``bench_features.py``).
"""
from __future__ import annotations

import argparse
import copy
import time

from simbox.features import compute_features, post

STEPS = [("comovement (moves, comove_peers, comove_share)", post.comovement),
         ("neighbours (imsi_, msisdn_neighbours)", post.neighbours),
         ("device_not_phone (+ main_imei, main_tac)", post.device_not_phone),
         ("imei_max_imsis", post.imei_max_imsis),
         ("window shares", post.window_shares),
         ("main places", post.main_places),
         ("fill (all of them)", post.fill)]


def captured_context(path, cells):
    """The ``post.Context`` of a run on ``path``, before the post-processing."""
    kept = []
    fill = post.fill

    def keep(ctx):
        kept.append(copy.deepcopy(ctx))
        fill(ctx)
    post.fill = keep
    try:
        res = compute_features([path], cells=cells, workers=1)
    finally:
        post.fill = fill
    return kept[0], len(res.features)


def timed(step, ctx, repeat):
    """CPU seconds of ``step`` on fresh copies of ``ctx`` (the copy not counted)."""
    out = []
    for _ in range(repeat):
        c = copy.copy(ctx)
        c.feats = ctx.feats.copy()
        t = time.process_time()
        step(c)
        out.append(time.process_time() - t)
    return sorted(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cdrs")
    ap.add_argument("--cells")
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args(argv)
    ctx, n = captured_context(a.cdrs, a.cells)
    moves = 0 if ctx.move_row is None else len(ctx.move_row)
    print(f"{n:,} IMSIs, {moves:,} moves, {len(ctx.dev_row):,} IMSI-IMEI and "
          f"{len(ctx.site_row):,} IMSI-site pairs; CPU ms over {a.repeat} runs\n")
    print("| step | min ms | median ms |")
    print("|---|---|---|")
    for name, step in STEPS:
        t = timed(step, ctx, a.repeat)
        print(f"| {name} | {t[0] * 1000:.1f} | {t[len(t) // 2] * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
