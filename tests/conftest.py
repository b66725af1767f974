import os
import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data"
ROOT = pathlib.Path(__file__).resolve().parent.parent
#: real captures from other projects (not in the repo): ../shared/captures/ beside the repo
CAPTURES = ROOT.parent / "shared" / "captures"

os.environ.setdefault("SIMBOX_NO_PROGRESS", "1")


@pytest.fixture
def datadir():
    return DATA


@pytest.fixture(scope="session")
def captures_dir():
    """The real captures folder, ``../shared/captures/`` (relative to the repo root's parent)."""
    if not CAPTURES.is_dir():
        pytest.skip(f"real captures not found: {CAPTURES} (the shared captures folder beside the "
                    "repository; developers and CI have it)")
    return CAPTURES


@pytest.fixture(scope="session")
def pycrate_cdr(tmp_path_factory):
    """The BER cross-check file, encoded by pycrate in this session (tests/data/ber/make_pycrate_cdr.py)."""
    pytest.importorskip("pycrate_asn1dir.CDR")
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_pycrate_cdr",
                                                  DATA / "ber" / "make_pycrate_cdr.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(tmp_path_factory.mktemp("ber") / "ts32297_cs_10k_pycrate.cdr")

# the history store of every scan the tests run: a temporary file, never the user's home
if not os.environ.get("SIMBOX_HISTORY"):
    import atexit
    import shutil
    import tempfile
    _history = tempfile.mkdtemp(prefix="simbox-test-history-")
    os.environ["SIMBOX_HISTORY"] = os.path.join(_history, "history.sqlite")
    atexit.register(shutil.rmtree, _history, ignore_errors=True)
