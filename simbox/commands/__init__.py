"""Subcommands of ``simbox``; one module each (see simbox/cli.py)."""
