from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NUCLA_DIR = SHARED_DATA / "nw-ucla"


@pytest.fixture(scope="session")
def nucla_dir() -> Path:
    if not (NUCLA_DIR / "all_sqe").is_dir():
        pytest.skip(f"real N-UCLA data not found at {NUCLA_DIR}")
    return NUCLA_DIR
