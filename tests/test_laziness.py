"""open_volume is lazy: a 4 GiB file is opened and one chunk read with little memory.

Each test writes a file whose *logical* size is 4 GiB but which takes well under
a megabyte on disk (sparse file, or chunked storage with only the chunks that
hold data written), with a known pattern in one box and zeros elsewhere. A
fresh Python process then opens it with ``open_volume``, computes the one dask
chunk that holds the box, checks its values, and reports its peak resident set
size (``ru_maxrss``) after the imports, after ``open_volume`` and after the read.

Asserted, for every format:

* the chunk holds exactly what was written (pattern in the box, zeros elsewhere);
* peak RSS of the whole process stays below 25 % of the file's logical size;
* ``open_volume`` itself read no voxels: its RSS growth is below 1/8 of one
  chunk, while reading one chunk does grow RSS by at least half a chunk (so the
  measurement can see voxel reads at all);
* reading one chunk costs less than 4x that chunk's bytes (the chunk itself plus
  decode buffers); more means the reader touched data outside the chunk.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("ru_maxrss is in KiB and sparse files are cheap on Linux only", allow_module_level=True)

MiB = 2**20
SHAPE = (2048, 1024, 1024)
DTYPE = np.uint16
LOGICAL = int(np.prod(SHAPE)) * np.dtype(DTYPE).itemsize  # 4 GiB
BOX = ((70, 78), (300, 364), (600, 700))  # inside one (64, 256, 256) storage chunk; 51200 voxels
STORAGE_CHUNKS = (64, 256, 256)
MAX_DISK = 64 * MiB  # the test files must stay small on disk


def pattern(z, y, x):
    """Known, never-zero value of every voxel in BOX (z, y, x broadcastable index arrays)."""
    return ((z * 31 + y * 7 + x) % 60000 + 1).astype(DTYPE)


def box_values():
    return pattern(*np.ogrid[tuple(slice(lo, hi) for lo, hi in BOX)])


def box_slices():
    return tuple(slice(lo, hi) for lo, hi in BOX)


CHILD = r"""
import json, resource, sys
import numpy as np
import dask.array, h5py, tifffile, zarr  # imported before measuring, so open_volume's cost is its own
from ssbimage.io import open_volume

def peak():
    # peak resident set size since the last reset (VmHWM), bytes
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def reset_peak():
    # forget import-time transients: the peak restarts from the current RSS
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

def pattern(z, y, x):
    return ((z * 31 + y * 7 + x) % 60000 + 1).astype(np.uint16)

args = json.loads(sys.argv[1])
box = args["box"]
reset_peak()
rss_import = peak()
vol = open_volume(args["path"], spacing=1.0)
rss_open = peak()

# the dask block holding the first corner of the box
index, lo_hi = [], []
for axis, (lo, hi) in enumerate(box):
    bounds = np.cumsum((0,) + vol.data.chunks[axis])
    i = int(np.searchsorted(bounds, lo, side="right") - 1)
    index.append(i)
    lo_hi.append((int(bounds[i]), int(bounds[i + 1])))
block = vol.data.blocks[tuple(index)].compute()
# a reader may hand back untouched zero pages (zarr's fill value for chunks never
# written): write them once so RSS shows the chunk whatever the reader did
block[...] = block.copy() if not block.flags.writeable else block
rss_chunk = peak()

inter = [(max(b0, s), min(b1, e)) for (b0, b1), (s, e) in zip(box, lo_hi)]
local = tuple(slice(a - s, b - s) for (a, b), (s, _) in zip(inter, lo_hi))
expected = pattern(*np.ogrid[tuple(slice(a, b) for a, b in inter)])
n_checked = int(expected.size)
pattern_ok = bool(np.array_equal(block[local], expected))
# every pattern value is non-zero, so "box matches and nothing else is non-zero"
# <=> count_nonzero(block) == box size (no copy of the 100+ MiB block needed)
nonzero = int(np.count_nonzero(block))
rss_end = peak()
print(json.dumps(dict(
    shape=list(vol.shape), dtype=str(vol.dtype), chunks_per_axis=[len(c) for c in vol.data.chunks],
    block_index=index, block_shape=list(block.shape), block_dtype=str(block.dtype),
    block_nbytes=int(block.nbytes), n_checked=n_checked, pattern_ok=pattern_ok, nonzero=nonzero,
    rss_import=rss_import, rss_open=rss_open, rss_chunk=rss_chunk, rss_end=rss_end,
)))
"""


def disk_usage(path: Path) -> int:
    """Bytes actually allocated on disk (sparse holes do not count)."""
    if path.is_dir():
        return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())
    return path.stat().st_blocks * 512


def read_one_chunk_in_fresh_process(path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"path": str(path), "box": BOX})],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_lazy(path: Path, fmt: str) -> None:
    try:
        _check_lazy(path, fmt)
    finally:  # do not leave 4 GiB (apparent size) files in pytest's kept tmp dirs
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _check_lazy(path: Path, fmt: str) -> None:
    on_disk = disk_usage(path)
    assert on_disk < MAX_DISK, f"test file takes {on_disk / MiB:.1f} MiB on disk; it should be sparse"

    r = read_one_chunk_in_fresh_process(path)
    chunk = r["block_nbytes"]
    grow_open = r["rss_open"] - r["rss_import"]
    grow_chunk = r["rss_chunk"] - r["rss_open"]
    grow_read = r["rss_end"] - r["rss_open"]
    summary = (
        f"\n[{fmt}] logical {LOGICAL / MiB:.0f} MiB, on disk {on_disk / 1024:.0f} KiB; "
        f"dask chunk {tuple(r['block_shape'])} = {chunk / MiB:.1f} MiB "
        f"(block {tuple(r['block_index'])} of {tuple(r['chunks_per_axis'])})\n"
        f"[{fmt}] peak RSS: after imports {r['rss_import'] / MiB:.0f} MiB, after open_volume "
        f"{r['rss_open'] / MiB:.0f} MiB (+{grow_open / MiB:.1f}), after one chunk "
        f"{r['rss_chunk'] / MiB:.0f} MiB (+{grow_chunk / MiB:.1f}), at end {r['rss_end'] / MiB:.0f} MiB "
        f"= {100 * r['rss_end'] / LOGICAL:.1f} % of the file; read cost {grow_read / chunk:.2f}x the chunk"
    )
    print(summary)

    # what was read is what was written
    assert tuple(r["shape"]) == SHAPE and r["dtype"] == np.dtype(DTYPE).name
    assert r["block_dtype"] == np.dtype(DTYPE).name
    assert r["n_checked"] >= 1000, f"block {r['block_index']} barely overlaps the written box"
    assert r["pattern_ok"], "the chunk's values in the written box differ from what was written"
    assert r["nonzero"] == r["n_checked"], (
        f"{r['nonzero']} non-zero voxels in the chunk, expected exactly the {r['n_checked']} written"
    )
    # memory
    assert r["rss_end"] < 0.25 * LOGICAL, (
        f"peak RSS {r['rss_end'] / MiB:.0f} MiB is not below 25 % of the {LOGICAL / MiB:.0f} MiB file" + summary
    )
    # fixed costs (the graph, the decompressor's buffers) are allowed 4 and 32 MiB:
    # "auto" chunks of a chunked file are about a 128³ block (8 MiB here)
    assert grow_open < max(chunk / 8, 4 * MiB), (
        f"open_volume grew RSS by {grow_open / MiB:.1f} MiB (one chunk is {chunk / MiB:.0f} MiB): "
        "it read voxels" + summary
    )
    assert grow_chunk >= chunk / 2, (
        f"reading a {chunk / MiB:.0f} MiB chunk grew RSS by only {grow_chunk / MiB:.1f} MiB: "
        "the RSS measurement cannot see voxel reads, so the open_volume check means nothing" + summary
    )
    assert grow_read < 4 * chunk + 32 * MiB, (
        f"reading one {chunk / MiB:.0f} MiB chunk grew peak RSS by {grow_read / MiB:.0f} MiB "
        f"({grow_read / chunk:.1f}x): the reader touches data outside the chunk" + summary
    )


# ---------------------------------------------------------------- the files

def test_bigtiff_is_read_lazily(tmp_path):
    import tifffile

    path = tmp_path / "big.tif"
    # shape + dtype and no data: tifffile writes the IFDs and seeks past the
    # pixel data, leaving a sparse file (~140 KiB on disk) in milliseconds.
    tifffile.imwrite(path, shape=SHAPE, dtype=DTYPE, bigtiff=True, photometric="minisblack")
    assert path.stat().st_size >= LOGICAL
    mm = tifffile.memmap(path, mode="r+")  # contiguous pixel data: write the box in place
    assert mm.shape == SHAPE
    mm[box_slices()] = box_values()
    mm.flush()
    del mm
    check_lazy(path, "bigtiff")


def test_npy_is_read_lazily(tmp_path):
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=DTYPE, shape=SHAPE)  # sparse
    mm[box_slices()] = box_values()
    mm.flush()
    del mm
    assert path.stat().st_size >= LOGICAL
    check_lazy(path, "npy")


def test_hdf5_is_read_lazily(tmp_path):
    import h5py

    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:  # /exchange/data: the Data Exchange default of open_volume
        ds = f.create_dataset("exchange/data", shape=SHAPE, dtype=DTYPE, chunks=STORAGE_CHUNKS,
                              compression="gzip", fillvalue=0)
        ds[box_slices()] = box_values()
    check_lazy(path, "hdf5")


def test_zarr_v3_is_read_lazily(tmp_path):
    import zarr

    path = tmp_path / "big.zarr"
    arr = zarr.create_array(store=str(path), shape=SHAPE, dtype=DTYPE, chunks=STORAGE_CHUNKS,
                            fill_value=0, zarr_format=3)
    arr[box_slices()] = box_values()
    n_chunk_files = sum(1 for p in path.rglob("*") if p.is_file() and p.name != "zarr.json")
    assert n_chunk_files == 1, f"expected only the box's chunk on disk, found {n_chunk_files}"
    check_lazy(path, "zarr-v3")
