"""Intermediate arrays written once to Zarr on disk, so a later step reads instead of recomputing.

A chunked pipeline that needs an expensive intermediate (a distance map, a
watershed) more than once has two bad options: recompute it each time, or
hold it in memory (a 2048³ label image is 32 GiB). Writing it to a scratch
folder costs one pass of fast compression. The folder is removed when the
last lazy array reading it is garbage-collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path

import dask.array as da
import numpy as np

from ._arrays import compute_in_batches

__all__ = ["haloed_parts", "map_haloed", "scratch_store", "stash_zarr", "store_in_batches", "write_zarr"]

BATCH = 8  # blocks per compute: a few per worker keeps them busy and memory bounded


def _write_block(block, target, block_info=None):
    target[tuple(slice(start, stop) for start, stop in block_info[0]["array-location"])] = block
    return np.ones((1,) * block.ndim, bool)


def store_in_batches(array: da.Array, target, *, batch: int = BATCH) -> None:
    """Write ``array`` into the Zarr array ``target`` (chunks aligned) a few blocks per compute.

    One compute over a whole haloed graph lets Dask read and keep the inputs
    of many blocks before it writes any (measured: 2.2 GiB to smooth and
    threshold a 512³ volume, rising with the volume); batches of blocks keep
    the peak at a few blocks per worker (:func:`ssbimage._arrays.compute_in_batches`).
    """
    written = array.map_blocks(_write_block, target=target, dtype=bool,
                               chunks=tuple((1,) * n for n in array.numblocks))
    compute_in_batches(list(written.to_delayed().ravel()), batch=batch)


def write_zarr(array: da.Array, path, *, compressors="auto", chunks=None, batch: int = BATCH):
    """Create the Zarr array ``path`` and fill it in batches of ``array``'s blocks.

    The store's chunks are ``chunks`` (a shape) where every block of
    ``array`` is a whole number of them, else ``array``'s chunks (made
    regular). Writing large blocks into smaller store chunks needs no
    rechunk: a rechunked block would be recomputed once per batch that
    holds a piece of it (measured: 21 s instead of 5 s to write the 512³
    particle labels from 256³ blocks into 128³ chunks).

    Returns the Zarr array.
    """
    def aligned(shape):
        return all(all(int(edge) % size == 0 or int(edge) == total
                       for edge in np.cumsum(sizes)) for sizes, size, total in zip(array.chunks, shape, array.shape))

    if chunks is None or not aligned(tuple(chunks)):
        if any(len(set(c[:-1])) > 1 or (len(c) > 1 and c[-1] > c[0]) for c in array.chunks):
            array = array.rechunk(array.chunksize)  # Zarr needs regular chunks
        chunks = array.chunksize if chunks is None else chunks
        if not aligned(tuple(chunks)):
            array = array.rechunk(chunks)
    target = _new_store(path, array.shape, array.dtype, chunks, compressors)
    store_in_batches(array, target, batch=batch)
    return target


def _shuffle(dtype) -> str:
    """Blosc's shuffle for a scratch store: none for label images (runs of one
    4-byte value compress as they are), bytes for smooth fields. On 128³ blocks
    of 512³ particle labels, lz4: ratio 13.2, decoding 4.5 GB/s unshuffled against
    7.3 and 2.4 GB/s bit-shuffled; distance levels (uint16) 5.3 and 3.4 GB/s
    byte-shuffled against 4.3 and 2.6 bit-shuffled."""
    dtype = np.dtype(dtype)
    return "noshuffle" if dtype.kind in "ui" and dtype.itemsize >= 4 else "shuffle"


def stash_zarr(array: da.Array, *, scratch_dir: str | os.PathLike | None = None, name: str = "array",
               batch: int = BATCH, store_chunks=None):
    """Compute ``array`` into a new Zarr store in a scratch folder; return the Zarr array.

    Parameters
    ----------
    array : dask array
        What to compute and store.
    scratch_dir : path, optional
        Parent folder of the scratch store (default the system's temporary
        folder; on a cluster, a folder every worker can reach).
    name : str
        Prefix of the folder name, to tell stores apart on disk.
    batch : int
        Blocks computed at a time (fewer for large blocks: memory grows with
        what one batch reads).
    store_chunks : shape, optional
        Chunks of the store (default ``array``'s); smaller ones let
        :func:`map_haloed` read a block's halo without decoding whole
        neighbouring blocks.

    Returns
    -------
    zarr.Array
        The folder is deleted once nothing refers to it (nor to a lazy array
        reading it).
    """
    return _in_scratch_folder(lambda path: write_zarr(array, path, batch=batch, chunks=store_chunks,
                                                      compressors=_compressor(array.dtype)), scratch_dir, name)


def scratch_store(shape, dtype, chunks, *, scratch_dir: str | os.PathLike | None = None, name: str = "array"):
    """An empty Zarr array in a new scratch folder (deleted with it, as :func:`stash_zarr`'s),
    for tasks that write their own blocks (whole store chunks) as they compute them."""
    return _in_scratch_folder(lambda path: _new_store(path, shape, dtype, chunks, _compressor(dtype)),
                              scratch_dir, name)


def _new_store(path, shape, dtype, chunks, compressors):
    """An empty Zarr array. Every chunk is written, even all-zero ones: Zarr's test for them
    compared each chunk with the fill value and made the writes slower (a 512³ label image,
    three runs: 1.73-1.84 s against 1.27-1.59 s)."""
    import zarr

    return zarr.create_array(str(path), shape=shape, dtype=dtype, chunks=tuple(chunks), compressors=compressors,
                             overwrite=True, config={"write_empty_chunks": True})


def _compressor(dtype):
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=1, shuffle=_shuffle(dtype))


def _in_scratch_folder(make, scratch_dir, name):
    """``make(path)`` of a Zarr array in a new folder under ``scratch_dir``, removed when the array is."""
    folder = Path(tempfile.mkdtemp(prefix=f"ssbimage-{name}-", dir=scratch_dir))
    try:
        target = make(folder / "data.zarr")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(target, shutil.rmtree, folder, True)
    return target


def _read_haloed(stores, location, depth, boundary):
    """Each store's block at ``location`` (slices) with ``depth`` more voxels per
    side, and the slices of the block inside the result."""
    shape = stores[0].shape
    region = tuple(slice(max(s.start - d, 0), min(s.stop + d, n)) for s, d, n in zip(location, depth, shape))
    blocks = [store[region] for store in stores]
    if boundary is None:  # the halo stops at the volume's faces
        inner = tuple(slice(s.start - r.start, s.stop - r.start) for s, r in zip(location, region))
        return blocks, inner
    pad = [(d - (s.start - r.start), d - (r.stop - s.stop)) for s, r, d in zip(location, region, depth)]
    blocks = [np.pad(b, pad, constant_values=boundary) for b in blocks]
    return blocks, tuple(slice(d, d + s.stop - s.start) for s, d in zip(location, depth))


def _locations(chunks):
    edges = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    for index in np.ndindex(*(len(c) for c in chunks)):
        yield tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, index))


def map_haloed(function, stores, *, chunks, depth, dtype, boundary=None, located=False, **kwargs) -> da.Array:
    """Lazily apply ``function`` to blocks of Zarr arrays read with a halo, cropped back.

    Like :func:`dask.array.map_overlap`, but each padded block is read straight
    from the stores, decoding only the store chunks it touches. ``map_overlap``
    instead loads every neighbouring block whole to cut its halo: for a 256³
    work block that is 27 blocks of 256³ in memory at once (measured at 1024³:
    3.1 GiB for the particles' watershed, 3.25 GiB for their saddle scan).

    Parameters
    ----------
    function : callable
        ``function(*blocks, **kwargs)`` → array of the padded block's shape.
    stores : sequence of zarr.Array
        Of one shape.
    chunks : tuple of tuples
        The output's blocks.
    depth : sequence of int
        Halo per axis, in voxels.
    dtype : dtype
        Of the output.
    boundary : number, optional
        Value of the halo beyond the volume's faces; by default the halo stops
        there (blocks on the faces are read smaller).
    located : bool
        Call ``function(inner, *blocks, **kwargs)`` with the slices of the
        block inside the padded blocks, and take its result as the block (for
        a function that computes the block alone, not the whole padded block).
    """
    depth = tuple(int(d) for d in depth)

    def run(_, block_info=None):
        location = tuple(slice(lo, hi) for lo, hi in block_info[None]["array-location"])
        blocks, inner = _read_haloed(stores, location, depth, boundary)
        if located:
            return function(inner, *blocks, **kwargs)
        return function(*blocks, **kwargs)[inner]

    shape = stores[0].shape
    template = da.broadcast_to(np.zeros((1,) * len(shape), bool), shape, chunks=chunks)
    return template.map_blocks(run, dtype=dtype)


def haloed_parts(function, stores, *, chunks, depth, boundary=None, located=False) -> list:
    """Delayed ``function(*padded blocks)`` for every block of ``chunks`` (see :func:`map_haloed`);
    for per-block results that are not arrays. With ``located``,
    ``function(location, inner, *padded blocks)``: the block's slices in the
    volume and in the padded blocks."""
    import dask

    depth = tuple(int(d) for d in depth)

    def run(location):
        blocks, inner = _read_haloed(stores, location, depth, boundary)
        return function(location, inner, *blocks) if located else function(*blocks)

    return [dask.delayed(run)(location) for location in _locations(chunks)]
