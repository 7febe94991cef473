"""Connected components of a chunked mask, labelled consistently across chunks."""

from __future__ import annotations

import itertools

import dask
import dask.array as da
import numba
import numpy as np
from dask.base import tokenize
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .._arrays import array_of_blocks, as_dask, compute_in_batches, delayed_blocks, task
from ._runs import compact_runs, face_labels, first_voxels, label_runs, paint_runs, run_counts

__all__ = ["label", "label_and_count"]

_OFFSETS = {  # in-plane neighbour offsets across a chunk face, per connectivity
    6: [(0, 0)],
    18: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)],
    26: list(itertools.product((-1, 0, 1), repeat=2)),
}


#: memory for the runs that pass 1 keeps for pass 2, shared out evenly between the chunks
#: (256 MiB of runs not yet narrowed: a 1024³ analysis peaked at 2.53 GiB, 1.74-1.84 GiB with 64 MiB;
#: 128 MiB keeps the 137-178 KB of a 1024³ void mask's 128³ chunks: its voids in 13.1-14.3 s, not 15.1-16.0)
KEPT_RUNS_BYTES = 128 * 2**20


def _summarise(block, location, shape, connectivity, keep_bytes, count, *masks):
    """Pass 1 for one chunk: component count, first voxel of each, the six faces, and
    the runs themselves if they take at most ``keep_bytes`` (else None); with ``count``
    also each component's voxels in all and within each mask (:func:`run_counts`)."""
    runs, n = label_runs(block, connectivity)
    counts = run_counts(block.shape, runs, n, masks) if count else None
    first_local = first_voxels(block.shape, runs, n)
    # within a chunk, global raster order is local raster order
    first = np.ravel_multi_index(
        tuple(i + o for i, o in zip(np.unravel_index(first_local, block.shape), location)),
        shape) if n else np.empty(0, np.int64)
    kept = compact_runs(block.shape, runs, max_bytes=keep_bytes) if keep_bytes else None
    faces = face_labels(block.shape, runs)
    if n <= np.iinfo(np.uint16).max:
        # every chunk's faces are gathered at once: 384 KiB per 128³ chunk in
        # uint32, 1.6 GB at 2048³; half that in uint16, which holds most chunks' ids
        faces = [[plane.astype(np.uint16) for plane in pair] for pair in faces]
    return n, first, faces, kept, counts


@numba.njit(cache=True, nogil=True)
def _pairs(lows, highs, offsets):  # pragma: no cover - compiled
    ny, nx = lows.shape
    n_offsets = offsets.shape[0]
    # room for a pair per voxel and offset: pages never written cost no memory
    out = np.empty((n_offsets * ny * nx, 2), np.int64)
    count = 0
    last_a, last_b = np.full(n_offsets, -1, np.int64), np.full(n_offsets, -1, np.int64)
    for y in range(ny):
        for x in range(nx):
            a = highs[y, x]
            if a <= 0:  # most of a seam: one read, not one per offset
                continue
            for k in range(n_offsets):
                yy, xx = y + offsets[k, 0], x + offsets[k, 1]
                if yy < 0 or yy >= ny or xx < 0 or xx >= nx:
                    continue
                b = lows[yy, xx]
                if b > 0 and (a != last_a[k] or b != last_b[k]):
                    out[count, 0], out[count, 1] = a, b
                    count += 1
                    last_a[k], last_b[k] = a, b
    return out[:count].copy()


def _seam_pairs(lows, highs, offsets):
    """Pairs of provisional ids that touch across one seam (full cross-section planes).

    Runs of the same pair along a row are kept once per offset: a seam has a
    pair per voxel and offset (21 M at 512³), and the graph needs each pair
    once. Compiled, in one sweep over the high side's voxels, which reads
    the offsets only around a labelled one: one sweep per offset read every
    voxel nine times, 0.9 s of the 1.4 s union of a 1024³ void mask
    (docs/performance.md, item 44); NumPy's masks per offset took longer still.
    """
    return _pairs(np.ascontiguousarray(lows, np.int64), np.ascontiguousarray(highs, np.int64),
                  np.array(offsets, np.int64).reshape(-1, 2))


def _mapping(summaries, grid, connectivity):
    """Union the components that touch across chunk faces and number them in raster order.

    Returns the offset of each chunk's provisional ids, a lookup table from
    provisional id to final label (0 stays 0) and the number of components. Final labels are numbered by the
    position of each component's first voxel in C order, like scipy.ndimage.label,
    so they do not depend on the chunking.
    """
    counts = np.array([s[0] for s in summaries], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    first = np.concatenate([s[1] for s in summaries]) if total else np.empty(0, np.int64)
    where = {idx: k for k, idx in enumerate(np.ndindex(*grid))}
    edges = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        for k in range(1, grid[axis]):
            def plane(index_along, side):
                # the cross-section written in place: per-chunk temporaries and
                # concatenations took a third of the union's time (item 44)
                chunk = [[where[tuple(index_along if a == axis else i if a == others[0] else j for a in range(3))]
                          for j in range(grid[others[1]])] for i in range(grid[others[0]])]
                heights = [summaries[row[0]][2][axis][side].shape[0] for row in chunk]
                widths = [summaries[b][2][axis][side].shape[1] for b in chunk[0]]
                out = np.empty((sum(heights), sum(widths)), np.int64)
                for i, y in enumerate(np.cumsum([0] + heights[:-1])):
                    for j, x in enumerate(np.cumsum([0] + widths[:-1])):
                        b = chunk[i][j]
                        face = summaries[b][2][axis][side]
                        view = out[y:y + face.shape[0], x:x + face.shape[1]]
                        view[...] = face
                        if offsets[b]:
                            np.add(view, offsets[b], out=view, where=face > 0)
                return out

            edges.append(_seam_pairs(plane(k, 0), plane(k - 1, 1), _OFFSETS[connectivity]))
    edges = np.concatenate(edges) if edges else np.empty((0, 2), np.int64)
    graph = sparse.coo_matrix((np.ones(len(edges), bool), (edges[:, 0] - 1, edges[:, 1] - 1)),
                              shape=(total, total))
    n_components, component = connected_components(graph, directed=False)
    first_voxel = np.full(n_components, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first_voxel, component, first)
    rank = np.empty(n_components, np.uint32)
    rank[np.argsort(first_voxel, kind="stable")] = np.arange(1, n_components + 1, dtype=np.uint32)
    lookup = np.concatenate([[0], rank[component]]).astype(np.uint32)
    return offsets, lookup, int(n_components)


def _component_counts(summaries, offsets, lookup, n):
    """The chunks' counts per provisional id (pass 1) summed per final label; column 0 the
    voxels outside every component."""
    counts = [s[4] for s in summaries]
    rows = counts[0].shape[0]
    ids = np.concatenate([lookup[offset + 1:offset + c.shape[1]] for offset, c in zip(offsets, counts)])
    out = np.zeros((rows, n + 1), np.int64)
    for row in range(rows):
        out[row, 0] = sum(int(c[row, 0]) for c in counts)
        np.add.at(out[row], ids, np.concatenate([c[row, 1:] for c in counts]))
    return out


def _paint(shape, runs, n, offset, lookup):
    table = np.concatenate([[0], lookup[offset + 1:offset + n + 1]]).astype(np.uint32)
    return paint_runs(shape, runs, table)


def _final_block(block, runs, shape, n, offset, lookup, connectivity):
    """Pass 2 for one chunk: its final labels, from its kept runs or, without them, labelled again."""
    if runs is None:
        runs, n = label_runs(block, connectivity)
    return _paint(shape, runs, n, offset, lookup)


def keep_labels(labels, keep) -> da.Array:
    """Renumber the labels where ``keep[label]`` is true as 1..k (in their order), the rest 0.

    ``keep`` is a boolean array indexed by label (entry 0 is ignored); order,
    and so raster-order numbering, is preserved.
    """
    lookup = kept_numbers(keep)
    return as_dask(labels).map_blocks(lambda b: lookup[b], dtype=np.uint32)


def kept_numbers(keep) -> np.ndarray:
    """Lookup from label to its new number in :func:`keep_labels` (0 where dropped)."""
    keep = np.asarray(keep, bool).copy()
    keep[0] = False
    lookup = np.zeros(len(keep), np.uint32)
    lookup[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    return lookup


def label(mask, *, connectivity: int = 26, keep_runs: bool = True):
    """Label the connected components of a 3D mask, chunk by chunk.

    Each chunk is labelled by its runs along x (:mod:`ssbimage.segment._runs`,
    compiled, free of the GIL, so threads label chunks side by side); components that
    touch across chunk faces (including edge and corner neighbours for
    26-connectivity) are joined by a union–find over the faces only, and the
    labels are numbered in raster order of their first voxel, exactly as
    :func:`scipy.ndimage.label` numbers them. The result therefore does not
    depend on the chunking. Work and memory are per chunk: the graph has a
    few tasks per chunk and the faces of all chunks are gathered. The first
    pass also keeps each chunk's runs where they fit its share of
    ``KEPT_RUNS_BYTES`` (128 MiB over all chunks; a 128³ chunk of a phase
    mask is about 0.54 MB of runs), and the second pass paints them without
    reading the mask again; any other chunk is read and labelled a second
    time instead of being kept in memory. Either way gives the same labels.
    Kept runs stay in the returned array's graph as long as it is alive.

    Parameters
    ----------
    mask : (Z, Y, X) array of bool
        NumPy or Dask array, any chunking.
    connectivity : {6, 18, 26}
        Face, face+edge, or face+edge+corner neighbours.
    keep_runs : bool
        Keep runs between the passes as above; False always reads and
        labels the mask twice (the least memory).

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
        0 = background, 1..n components.
    n : 0-d dask array of int
        Number of components (already computed: the first pass, which finds
        it, runs when ``label`` is called).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((4, 4, 4), bool)
    >>> mask[0, 0, :2] = mask[3, 3, 3] = True
    >>> labels, n = label(mask, connectivity=6)
    >>> int(n), labels[0, 0, :2].compute().tolist(), int(labels[3, 3, 3])
    (2, [1, 1], 2)
    """
    labels, n, _ = _labelled(mask, connectivity, keep_runs, (), count=False)
    return labels, da.from_array(np.asarray(n))


def label_and_count(mask, masks=(), *, connectivity: int = 26, keep_runs: bool = True):
    """:func:`label`, and each component's voxels in all and within each of ``masks``, counted
    in the first pass.

    The counts come from the runs the first pass labels, so a table of
    components needs no pass over the painted labels (which are painted
    only when they are computed): at 2048³ the void table's second pass
    labelled every chunk again and read it (docs/performance.md, item 44).

    Parameters
    ----------
    mask : (Z, Y, X) array of bool
    masks : sequence of (Z, Y, X) arrays of bool
        Counted within; rechunked to the mask's chunks.
    connectivity : {6, 18, 26}
    keep_runs : bool
        As :func:`label`.

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
    n : int
    counts : (1 + len(masks), n + 1) ndarray of int64
        Row 0 every voxel of each label, row k those in ``masks[k - 1]``; column 0
        the voxels outside every component, as :func:`ssbimage._arrays.counts_within`.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((4, 4, 4), bool)
    >>> mask[0, 0, :2] = mask[3, 3, 3] = True
    >>> labels, n, counts = label_and_count(mask, [mask & (np.arange(4) == 1)], connectivity=6)
    >>> n, counts[:, 1:].tolist()
    (2, [[2, 1], [1, 0]])
    """
    return _labelled(mask, connectivity, keep_runs, masks, count=True)


def _labelled(mask, connectivity, keep_runs, masks, count):
    if connectivity not in _OFFSETS:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    mask = as_dask(mask)
    if mask.ndim != 3:
        raise ValueError(f"label needs a 3D mask, got shape {mask.shape}")
    grid = mask.numblocks
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in mask.chunks]
    blocks = delayed_blocks(mask)
    keep_bytes = KEPT_RUNS_BYTES // int(np.prod(grid)) if keep_runs else 0
    mask_blocks = [delayed_blocks(as_dask(m).rechunk(mask.chunks)) for m in masks]
    summaries = [task(_summarise, blocks[idx], tuple(int(starts[a][idx[a]]) for a in range(3)),
                      mask.shape, connectivity, keep_bytes, count, *(b[idx] for b in mask_blocks))
                 for idx in np.ndindex(*grid)]
    # pass 1 and the union-find run now, once: every block of the result
    # needs them, and left lazy they would be redone by every separate compute
    # of some of its blocks (batched writes: 8 times at 1024³). With masks to
    # count within, 64 blocks a batch: each batch reads its blocks' neighbouring
    # chunks again for their outer layers (1024³ voids: 13.5 s in batches of 8,
    # 8.3-9.4 s of 64; the separate counts before measured the same, item 43)
    summaries = compute_in_batches(summaries, batch=64 if masks else 8)
    offsets, lookup, n = _mapping(summaries, grid, connectivity)
    counts = _component_counts(summaries, offsets, lookup, n) if count else None
    lookup = dask.delayed(lookup, pure=True)  # one copy in the graph, not one per block
    arguments = {}
    for k, idx in enumerate(np.ndindex(*grid)):
        shape = tuple(mask.chunks[a][idx[a]] for a in range(3))
        components, _, _, runs, _ = summaries[k]
        if runs is None:  # label the chunk again
            arguments[idx] = (blocks[idx], None, shape, components, int(offsets[k]), lookup, connectivity)
        else:  # paint the runs kept from pass 1: the mask is not read again
            arguments[idx] = (None, runs, shape, components, int(offsets[k]), lookup, connectivity)
    labels = array_of_blocks(f"label-{tokenize(mask.name, connectivity)}", _final_block, arguments, mask.chunks,
                             np.uint32)
    return labels, n, counts
