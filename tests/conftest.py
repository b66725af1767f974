import os
import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data"

os.environ.setdefault("SIMBOX_NO_PROGRESS", "1")


@pytest.fixture
def datadir():
    return DATA
