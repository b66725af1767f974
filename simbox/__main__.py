from simbox.cli import entry

raise SystemExit(entry())
