"""The ``simbox`` command under ``spark-submit`` (docs/spark.md).

``spark-submit`` runs a Python *file*; this one is installed with simbox::

    spark-submit --archives simbox-env.tar.gz#env ... \\
        "$(python -c 'import simbox.spark.submit as s; print(s.__file__)')" \\
        scan table:lake.cdr --engine spark --from 2026-03-01 --to 2026-03-08 --out scan/

or copied beside the job (``cp "$(...)" run_simbox.py``): it only calls the command
line with its arguments, in the session spark-submit configured.
"""
import sys

from simbox.cli import entry

if __name__ == "__main__":
    sys.exit(entry())
