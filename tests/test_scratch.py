"""Scratch stores: what is written reads back the same, in the chunks asked for."""

import dask.array as da
import numpy as np
import pytest

from ssbimage._scratch import stash, write_zarr


def _counting(shape, chunks):
    """A lazy array whose blocks count how often they are computed."""
    calls = []

    def block(b, block_info=None):
        calls.append(block_info[None]["chunk-location"])
        return b + 1

    base = da.arange(np.prod(shape), dtype=np.uint32).reshape(shape).rechunk(chunks)
    return base.map_blocks(block, dtype=np.uint32), calls, np.arange(np.prod(shape), dtype=np.uint32).reshape(shape) + 1


def test_large_blocks_fill_smaller_store_chunks_once_each(tmp_path):
    array, calls, expected = _counting((32, 32, 32), 16)
    target = write_zarr(array, tmp_path / "a.zarr", chunks=(8, 8, 8))
    assert target.chunks == (8, 8, 8)
    np.testing.assert_array_equal(target[...], expected)
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 8  # each 16³ block computed once


def test_unaligned_chunks_are_rechunked(tmp_path):
    array, _, expected = _counting((30, 20, 10), (7, 20, 10))
    target = write_zarr(array, tmp_path / "b.zarr", chunks=(8, 8, 8))
    assert target.chunks == (8, 8, 8)
    np.testing.assert_array_equal(target[...], expected)


def test_irregular_chunks_are_made_regular(tmp_path):
    array = da.from_array(np.arange(100, dtype=np.uint16).reshape(10, 10, 1), chunks=((3, 7), (10,), (1,)))
    target = write_zarr(array, tmp_path / "c.zarr")
    assert target.chunks == (7, 10, 1)
    np.testing.assert_array_equal(target[...], array.compute())


def test_stash_reads_back(tmp_path):
    array = da.from_array(np.arange(64, dtype=np.int32).reshape(4, 4, 4), chunks=2)
    stored = stash(array, scratch_dir=tmp_path)
    np.testing.assert_array_equal(stored.compute(), np.arange(64).reshape(4, 4, 4))

    def fail(block):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        stash(da.ones((2, 2, 2), chunks=1).map_blocks(fail, dtype=float), scratch_dir=tmp_path, name="failed")
    # the failed store's folder is gone; the live one stays until ``stored`` is dropped
    assert [p.name.split("-")[1] for p in tmp_path.iterdir()] == ["array"]


@pytest.mark.parametrize("scheduler", ["threads", "distributed"])
def test_batches_return_every_block_in_order(scheduler):
    import dask

    from ssbimage._arrays import compute_in_batches

    array = da.arange(20 * 6 * 6, dtype=np.int64).reshape(20, 6, 6).rechunk((1, 6, 6))
    parts = [dask.delayed(lambda b: int(b.sum()))(b) for b in array.to_delayed().ravel()]
    expected = [int(np.arange(k * 36, (k + 1) * 36).sum()) for k in range(20)]
    if scheduler == "threads":
        with dask.config.set(scheduler="threads"):
            assert compute_in_batches(parts, batch=3) == expected
    else:
        distributed = pytest.importorskip("distributed")
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
            assert compute_in_batches(parts, batch=3) == expected
