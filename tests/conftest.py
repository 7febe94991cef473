import numpy as np
import pytest


@pytest.fixture
def grey_volume():
    """A small uint16 volume whose every voxel value is different along x."""
    rng = np.random.default_rng(42)
    return rng.integers(0, 60000, size=(11, 13, 17), dtype=np.uint16)


@pytest.fixture
def file_hashes():
    """Snapshot (path -> sha256) of every file under a folder, to prove inputs are untouched."""
    import hashlib

    def snapshot(folder):
        return {
            p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
        }

    return snapshot
