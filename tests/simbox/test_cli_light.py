"""Building the command line imports no heavy library: ``simbox --help`` and every
command's ``--help`` stay fast (scikit-learn, pandas, scipy and matplotlib load only
when a command runs and needs them)."""
import subprocess
import sys

import pytest

from simbox.cli import command_modules

HEAVY = ("sklearn", "pandas", "scipy", "matplotlib", "skops", "pyarrow")
RUN = """
import sys
from simbox.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:       # --help exits 0 after printing
    code = exc.code
assert code in (0, None), code
print("heavy:", ",".join(m for m in %r if m in sys.modules))
""" % (HEAVY,)


def heavy_after(*args):
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_top_level_help_imports_nothing_heavy():
    assert heavy_after("--help") == "heavy:"


@pytest.mark.parametrize("command", [m.NAME for m in command_modules()])
def test_each_command_help_imports_nothing_heavy(command):
    # the whole parser (every command's options and defaults) is built for each of them
    assert heavy_after(command, "--help") == "heavy:"


def test_the_check_can_fail():
    assert heavy_after("--help") == "heavy:"
    proc = subprocess.run([sys.executable, "-c", "import pandas\n" + RUN, "--help"],
                          capture_output=True, text=True, timeout=120)
    assert "pandas" in proc.stdout.strip().splitlines()[-1]
