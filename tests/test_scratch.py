"""Scratch stores: what is written reads back the same, in the chunks asked for."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from ssbimage._scratch import haloed_parts, map_haloed, stash_zarr, write_zarr


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
    stored = stash_zarr(array, scratch_dir=tmp_path)
    np.testing.assert_array_equal(stored[...], np.arange(64).reshape(4, 4, 4))

    def fail(block):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        stash_zarr(da.ones((2, 2, 2), chunks=1).map_blocks(fail, dtype=float), scratch_dir=tmp_path, name="failed")
    # the failed store's folder is gone; the live one stays until ``stored`` is dropped
    assert [p.name.split("-")[1] for p in tmp_path.iterdir()] == ["array"]


@pytest.mark.parametrize("boundary", [None, 0])
def test_haloed_reads_match_map_overlap(tmp_path, boundary):
    image = np.random.default_rng(3).integers(0, 1000, (40, 37, 33)).astype(np.int32)
    array = da.from_array(image, chunks=(16, 16, 11))  # last blocks smaller
    store = stash_zarr(array, scratch_dir=tmp_path, store_chunks=(8, 8, 11))
    depth = (2, 1, 3)

    def local_max(block):  # depends on the halo: a wrong halo changes the result
        return ndimage.maximum_filter(block, size=(5, 3, 7), mode="constant", cval=-1)

    expected = array.map_overlap(local_max, depth=depth, boundary="none" if boundary is None else boundary,
                                 dtype=np.int32).compute()
    found = map_haloed(local_max, [store], chunks=array.chunks, depth=depth, dtype=np.int32, boundary=boundary)
    assert found.chunks == array.chunks
    np.testing.assert_array_equal(found.compute(), expected)
    # located: the function is given the block's place in the padded block and returns the block
    cropped = map_haloed(lambda inner, block: local_max(block)[inner], [store], chunks=array.chunks, depth=depth,
                         dtype=np.int32, boundary=boundary, located=True)
    np.testing.assert_array_equal(cropped.compute(), expected)
    # whole padded blocks for per-block results: their sums, against NumPy's padding
    sums = da.compute(*haloed_parts(lambda b: int(b.sum()), [store], chunks=((40,), (20, 17), (33,)),
                                    depth=(1, 1, 1), boundary=-5))
    padded = np.pad(image, 1, constant_values=-5)
    assert list(sums) == [int(padded[:, :22].sum()), int(padded[:, 20:].sum())]


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


@pytest.mark.parametrize("batch, carry_bytes, reads", [(3, 0, 7), (3, 1 << 20, 1), (20, 0, 1)])
def test_an_input_shared_by_every_batch_is_read_once_when_handed_on(batch, carry_bytes, reads):
    import dask

    from ssbimage._arrays import compute_in_batches

    calls = []

    def shared_input():
        calls.append(1)
        return np.arange(10)

    source = dask.delayed(shared_input, pure=True)()
    parts = [dask.delayed(lambda s, k: int(s.sum()) + k)(source, k) for k in range(20)]
    with dask.config.set(scheduler="threads"):
        assert compute_in_batches(parts, batch=batch, carry_bytes=carry_bytes) == [45 + k for k in range(20)]
    assert len(calls) == reads  # 20 parts in batches of 3: 7 batches, each reading it without a hand-over


class _CountedReads:
    """An array that counts the reads Dask makes of it (``da.from_array`` reads a chunk per call)."""

    def __init__(self, data):
        self.data, self.reads = data, 0
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim

    def __getitem__(self, key):
        self.reads += 1
        return self.data[key]


@pytest.mark.parametrize("carry_bytes", [0, 64, 1 << 20])
def test_batches_of_haloed_blocks_hand_their_shared_chunks_to_the_next(carry_bytes):
    """Neighbouring batches read the chunks between them for their halos; the next batch
    takes them from the last as far as ``carry_bytes`` allows, and the sums stay exact."""
    import dask

    from ssbimage._arrays import compute_in_batches

    image = np.arange(12 ** 3, dtype=np.int64).reshape(12, 12, 12)
    source = _CountedReads(image)
    haloed = da.overlap.overlap(da.from_array(source, chunks=4), depth=1, boundary="none")
    parts = [dask.delayed(lambda b: int(b.sum()))(b) for b in haloed.to_delayed().ravel()]
    with dask.config.set(scheduler="threads"):
        sums = compute_in_batches(parts, batch=3, carry_bytes=carry_bytes)
    padded = np.pad(image, 1)
    assert sums == [int(padded[4 * z:4 * z + 6, 4 * y:4 * y + 6, 4 * x:4 * x + 6].sum())
                    for z, y, x in np.ndindex(3, 3, 3)]
    # 9 batches of a row each: without a hand-over every batch reads the 3 × 3 rows around its
    # own (148 reads); handing on what the next row needs saves about two thirds of them
    if carry_bytes == 0:
        assert source.reads > 120
    elif carry_bytes == 1 << 20:
        assert source.reads < 60
    else:  # a 4³ chunk of int64 is 512 bytes: nothing fits, as without a hand-over
        assert source.reads > 120


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc/self/statm")
def test_batches_hand_memory_back_only_above_the_resident_threshold(monkeypatch):
    """After each batch, glibc's trim runs only while resident memory is over ``TRIM_ABOVE_BYTES``;
    after the last batch always."""
    import dask

    import ssbimage._arrays as arrays

    resident = arrays.resident_bytes()
    assert 10 * 2**20 < resident < 64 * 2**30
    trims = []
    monkeypatch.setattr(arrays, "_malloc_trim", lambda pad: trims.append(pad))
    parts = [dask.delayed(int)(k) for k in range(9)]
    for threshold, expected in [(resident * 4, 1), (resident // 4, 3)]:  # 3 batches
        trims.clear()
        monkeypatch.setattr(arrays, "TRIM_ABOVE_BYTES", threshold)
        with dask.config.set(scheduler="threads"):
            assert arrays.compute_in_batches(parts, batch=3) == list(range(9))
        assert len(trims) == expected
