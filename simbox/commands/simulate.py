"""``simbox simulate``: write a labelled simulated carrier network."""
from __future__ import annotations

import json

from simbox.errors import ConfigError
from simbox.progress import Bar

NAME = "simulate"
HELP = "simulate a labelled carrier network (CDRs, cells, TACs, truth, labels)"
DESCRIPTION = """\
Simulate a city's mobile network with legitimate subscribers (including the
hard negatives: call centres, drivers, M2M, dual-SIM phones...) and fraud
deployments (SIM boxes, evasive SIM boxes, card farms), and write it in the
project's input contracts: cdrs.csv.gz, cells.csv, tac.csv, truth.csv (the
full truth, for evaluation), labels.csv (what a carrier would know: raided
deployments and confirmed-legitimate complaints) and deployments.csv.
The same seed gives byte-identical files.  See docs/simulator.md.

--world N draws the whole configuration of world N (city, population mix and
behaviour, fraud share, mix and variants; see simbox.data.worlds) and writes it
as world.json beside the outputs; worlds 0-999 are training worlds, 1000 on are
held out.  --config then overrides the world, --scenario is the world's own.

Example:
  simbox simulate --subscribers 20000 --days 7 --scenario mixed --seed 1 --out sim/
  simbox simulate --subscribers 5000 --days 3 --scenario evasive --config my.toml --out ev/
  simbox simulate --subscribers 20000 --days 7 --seed 1 --format ber --out sim-ber/
  simbox simulate --subscribers 20000 --days 7 --world 17 --out world17/
  simbox simulate --subscribers 20000 --days 7 --testcalls 500 --out sim-tc/
"""


def add_arguments(p):
    p.add_argument("--subscribers", type=int, default=10_000, help="number of SIMs (default 10000)")
    p.add_argument("--days", type=int, default=7, help="days to simulate (default 7)")
    p.add_argument("--scenario", default=None, choices=["baseline", "evasive", "mixed"],
                   help="baseline: plain boxes and farms; evasive: mostly evasive variants; "
                        "mixed: both (default; not with --world)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (default 0; with --world, the world number)")
    p.add_argument("--world", type=int, default=None, metavar="N",
                   help="simulate world N: a whole configuration drawn from seed N "
                        "(0-999 training worlds, 1000+ held out); writes world.json")
    p.add_argument("--generator", type=int, default=None, metavar="V",
                   help="with --world: the version of the world's draws (default the latest; "
                        "3 draws the worlds the shipped model was trained on)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--config", help="JSON or TOML file overriding simulator parameters")
    p.add_argument("--format", default=None,
                   help="CDR file format: csv (default) or ber (3GPP TS 32.297 files of "
                        "TS 32.298 CS records in cdrs/, see docs/input-formats-ber.md)")
    p.add_argument("--signaling", nargs="?", const=True, default=False, metavar="FORMAT",
                   help="also write the attach / location-update events (pcap when available, "
                        "else attaches.csv.gz; or name the format)")
    p.add_argument("--testcalls", type=int, default=0, metavar="N",
                   help="also run a test-call campaign of N calls to probe numbers (some "
                        "terminated by SIM boxes): testcalls.csv, probes.txt, "
                        "testcalls_truth.csv (docs/feedback.md)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from simbox.data import simulate  # lazy: CLI start-up (the simulator: pandas)
    from simbox.data import writers  # lazy: CLI start-up (the simulator: pandas)
    fmt = args.format or "csv"
    if fmt not in writers.WRITERS:
        raise ConfigError(f"unknown --format {fmt!r}; available: {', '.join(sorted(writers.WRITERS))}")
    if args.generator is not None and args.world is None:
        raise ConfigError("--generator goes with --world (the version of a world's draws)")
    if args.world is not None:
        from simbox.data.config import read_config_file  # lazy: CLI start-up
        from simbox.data.worlds import simulate_world  # lazy: CLI start-up
        if args.scenario is not None:
            raise ConfigError("--scenario does not go with --world (a world draws its own "
                              "fraud mix)")
        overrides = read_config_file(args.config) if args.config else None
        if args.testcalls:
            raise ConfigError("--testcalls does not go with --world yet")
        res = simulate_world(args.world, args.subscribers, args.days, args.seed, args.out,
                             overrides=overrides, format=fmt, signaling=args.signaling,
                             progress=Bar("simulate"),
                             **({} if args.generator is None else {"generator": args.generator}))
    else:
        res = simulate(args.subscribers, args.days, args.scenario or "mixed",
                       0 if args.seed is None else args.seed, args.out,
                       config=args.config, format=fmt, signaling=args.signaling,
                       testcalls=args.testcalls or None, progress=Bar("simulate"))
    if args.json:
        s = res.network.summary()
        s["seconds"] = round(res.seconds, 2)
        s["files"] = {k: str(v) for k, v in res.paths.items()}
        print(json.dumps(s))
    else:
        print(f"simulated {res.summary_line()}")
    return 0
