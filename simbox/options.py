"""The input options of ``features``, ``scan``, ``train`` and ``evaluate``, defined once.

Every command that reads CDRs takes the same options, with the same names, help
and defaults, and the defaults are those of the library function
(:func:`simbox.features.compute_features`): the command line and the library
give the same result for the same call.  Only the default rejects file differs,
as the outputs do (it lies beside the command's output).

``add_input_options(parser, command)`` adds them; ``input_options(args)`` gives
the keyword arguments of the library call.
"""
from __future__ import annotations

import inspect

from simbox.errors import ConfigError

#: the options, in the order --help lists them (keyword names of compute_features)
INPUT_OPTIONS = ("columns", "timezone", "on_bad_records", "max_reject_share", "rejects",
                 "cells", "tac", "workers", "memory_limit", "probe_numbers", "time_from",
                 "time_to")
#: where each command writes rejected records unless --rejects is given
REJECTS_DEFAULT = {"features": "<out>.rejects.csv", "scan": "<out>/rejects.csv",
                   "train": "<out>.rejects.csv", "evaluate": "evaluate.rejects.csv",
                   "watch": "STATE_DIR/rejects/<file>.csv"}
#: commands whose model gives the time zone when --timezone is not given
MODEL_TIMEZONE = ("scan", "evaluate")


def library_defaults() -> dict:
    """The defaults of the input options: those of :func:`compute_features`."""
    from simbox.features import compute_features  # lazy: when a parser is built, not on import
    sig = inspect.signature(compute_features).parameters
    return {name: sig[name].default for name in INPUT_OPTIONS if name in sig}


def add_input_options(p, command: str) -> None:
    """Add the input options to the argparse parser of ``command``."""
    # lazy: when a parser is built, not on import (the fast path: numpy, kernels)
    from simbox.fastpath.columns import builtin_profiles  # lazy: fastpath only when the parser's profile choices are listed
    from simbox.fastpath.stats import BAD_RECORD_POLICIES  # lazy: as above
    d = library_defaults()
    g = p.add_argument_group("input options (the same in features, scan, train and evaluate)")
    g.add_argument("--columns", default=d["columns"], metavar="PROFILE",
                   help="column profile of CDR CSV files: a built-in name "
                        f"({', '.join(builtin_profiles())}) or a profile file; "
                        "'simbox columns detect FILE' proposes one (default %(default)s)")
    g.add_argument("--timezone", default=None, metavar="TZ",
                   help="the network's IANA time zone for time-of-day features, e.g. "
                        "Asia/Shanghai (default: where a model scores the SIMs (scan, "
                        f"evaluate) the model's, with a warning; else {d['timezone']})")
    g.add_argument("--on-bad-records", choices=BAD_RECORD_POLICIES, default=d["on_bad_records"],
                   help="a malformed record: skip it (counted, written to the rejects file) "
                        "or stop with an error at the first (default %(default)s)")
    g.add_argument("--strict", dest="on_bad_records", action="store_const", const="error",
                   help="the same as --on-bad-records error")
    g.add_argument("--max-reject-share", type=float, default=d["max_reject_share"],
                   metavar="SHARE",
                   help="fail (exit status 1, no output) when a file or the whole run rejects "
                        "more than this share of its records (default %(default)s; 1: never)")
    g.add_argument("--rejects", metavar="CSV",
                   help="file of the rejected records (default: features and train "
                        "<out>.rejects.csv, scan <out>/rejects.csv, evaluate "
                        "evaluate.rejects.csv; written only when a record is rejected)")
    g.add_argument("--cells", metavar="CSV",
                   help="cell table cell_id,site_id,lat,lon[,azimuth,...] (docs/input-formats.md, "
                        "'Cells and TAC tables'); optional: without it each cell is its own "
                        "site, without coordinates")
    g.add_argument("--tac", metavar="CSV",
                   help="TAC table tac,device_type: the device type of each IMEI's first 8 "
                        "digits (IMEIs of 14-16 digits only)")
    g.add_argument("--workers", type=int, default=d["workers"], metavar="N",
                   help="threads reducing partitions (default %(default)s)")
    g.add_argument("--memory-limit", default=d["memory_limit"], metavar="SIZE",
                   help="events kept in memory before spilling to disk (default %(default)s)")
    g.add_argument("--probe-numbers", metavar="FILE",
                   help="test-call probe numbers, one a line: calls to them are dropped before "
                        "the features (they are test calls, not callees; docs/feedback.md)")
    g.add_argument("--from", dest="time_from", default=d["time_from"], metavar="TIME",
                   help="only events at or after this time (ISO-8601, UTC unless zoned, e.g. "
                        "2026-03-01 or 2026-03-01T13:00:00Z); hive partitions (date=/hour=) "
                        "before it are not read")
    g.add_argument("--to", dest="time_to", default=d["time_to"], metavar="TIME",
                   help="only events before this time (as --from); later hive partitions are "
                        "not read")
    p.set_defaults(_input_command=command)


def add_engine_options(p) -> None:
    """Add ``--engine`` and ``--spark-master`` (``features`` and ``scan``)."""
    from simbox.engines import ENGINES  # lazy: as above
    g = p.add_argument_group("engine (docs/spark.md)")
    g.add_argument("--engine", choices=ENGINES, default="local",
                   help="compute the features on this machine or on Apache Spark (the same "
                        "table; Spark reads Parquet, ORC or CSV files and catalog tables given "
                        "as table:DB.NAME; default %(default)s)")
    g.add_argument("--spark-master", metavar="URL",
                   help="Spark master for --engine spark (default: spark-submit's, else "
                        "local[*])")


def engine_options(args) -> dict:
    """``engine`` and ``spark_master`` of parsed ``args``."""
    return {"engine": args.engine, "spark_master": args.spark_master}


def input_options(args, out: str | None = None) -> dict:
    """Keyword arguments of the library call from parsed ``args``.

    ``out``: the command's output, for the default rejects file (None: none).
    ``timezone`` is left out when not given (the library picks its default).
    """
    opts = {name: getattr(args, name) for name in INPUT_OPTIONS}
    if opts["workers"] is not None and opts["workers"] < 1:
        raise ConfigError(f"--workers must be at least 1, not {opts['workers']}")
    if opts["rejects"] is None:
        default = REJECTS_DEFAULT[args._input_command]
        opts["rejects"] = None if "<out>" in default and out is None else \
            default.replace("<out>", str(out).rstrip("/")) if out is not None else default
    if opts["timezone"] is None:
        del opts["timezone"]
    return opts


HISTORY_HELP = ("history store (SQLite; default: $SIMBOX_HISTORY, else "
                "~/.local/share/simbox/history.sqlite; docs/feedback.md)")


def add_history_option(p, *, optional: bool = False) -> None:
    """``--history DB`` (and, for a command that records, ``--no-history``)."""
    p.add_argument("--history", metavar="DB", help=HISTORY_HELP)
    if optional:
        p.add_argument("--no-history", action="store_true",
                       help="record nothing in a history store")


def history_option(args):
    """The ``history`` of the library call: a path, None (the default store) or False."""
    if getattr(args, "no_history", False) and args.history:
        raise ConfigError("give --history or --no-history, not both")
    return False if getattr(args, "no_history", False) else args.history


def add_feedback_options(p) -> None:
    """The options of the feedback loop (``scan``; the same names for ``watch``):
    ``--exclude``, ``--history`` / ``--no-history``, ``--dismiss-margin``."""
    from simbox.feedback import DISMISS_MARGIN  # lazy: when a parser is built
    g = p.add_argument_group("feedback loop (docs/feedback.md)")
    g.add_argument("--exclude", metavar="CSV",
                   help="exclusions kind,value,reason,owner,expires: SIMs never put on the "
                        "shutdown list (written to excluded.csv instead)")
    add_history_option(g, optional=True)
    g.add_argument("--dismiss-margin", type=float, default=DISMISS_MARGIN, metavar="M",
                   help="a SIM an analyst dismissed is flagged again only when its score rose "
                        "by at least M since (default %(default)s)")


def feedback_options(args) -> dict:
    """Keyword arguments of :func:`simbox.scan.scan` from :func:`add_feedback_options`."""
    return {"exclude": args.exclude, "history": history_option(args),
            "dismiss_margin": args.dismiss_margin}
