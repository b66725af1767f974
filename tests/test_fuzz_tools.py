"""The fuzzers run (a few inputs each): they are the long checks of issue 14 and must not rot."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("cmd", [
    ["fuzz_readers.py", "--format", "all", "--inputs", "200", "--allow-release"],
    ["fuzz_signaling.py", "--inputs", "2000", "--batch", "500", "--allow-release"],
    ["fuzz_ber.py", "--inputs", "200", "--allow-release"],
    ["fuzz_csv.py", "--inputs", "200", "--seed", "1", "--allow-release"],
], ids=lambda c: c[0])
def test_fuzzer_runs(cmd, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / cmd[0]), *cmd[1:]], cwd=tmp_path,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
