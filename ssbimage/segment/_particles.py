"""Particle instances: a distance-transform watershed, chunk by chunk, stitched by global markers.

How the result is kept independent of the chunking:

1. The distance to the background is exact wherever it is below
   ``max_radius``: each chunk's Euclidean distance transform (:mod:`ssbimage._distance`) sees a
   halo of ``max_radius``, so the nearest background voxel of any voxel
   closer than that lies inside the padded block; larger distances are
   clipped to ``max_radius``.
2. Seeds are the regional maxima of the distance (a 3×3×3 maximum filter,
   one-voxel halo), labelled with the stitched :func:`label`, so every seed
   has one global id whatever the chunks.
3. The watershed (a priority flood of the distance quantised to 1/16
   voxel, :mod:`._flood`) runs per chunk on the padded block with the global
   seed ids; a particle voxel is reached from a seed of its own particle (at most
   about one particle radius away) inside a halo of ``max_radius``, so a
   particle cut by a chunk face gets the same ids on both sides.
4. Regions are merged on a graph: per chunk, each region's peak and
   surface and, per pair of touching regions, the highest distance on their
   common boundary (the neck) and the faces they share are summarised (the
   faces inside a chunk as the watershed task writes it, the faces across
   chunk seams from the seams' two voxel layers); sums and maxima do not
   depend on where the chunk faces fall. The merging runs
   once for the whole volume on that graph, most certain pair first.
5. Particle voxels no seed reaches become particles of their own, labelled
   with the stitched :func:`label`; specks below ``min_volume`` are dropped.

The quantised distance, the seeds and the watershed are each computed once
and written to a scratch Zarr store in small chunks
(:func:`ssbimage._scratch.stash_zarr`); the later steps read each block with
its halo straight from there (:func:`ssbimage._scratch.map_haloed`), not by
loading the neighbouring blocks whole. Chunks are first widened to 8 halos
so the halo adds under 2× the work (docs/performance.md has the measurements).
"""

from __future__ import annotations

import functools
import math
import operator

import dask
import dask.array as da
import numba
import numpy as np

from .._arrays import as_dask, compute_in_batches, is_zarr_array, kernel_threads
from .._compiled import table_slot
from .._distance import clipped_distance
from .._spacing import check_spacing
from ._label import kept_numbers, label, label_and_count

__all__ = ["segment_particles", "particle_distance"]

PARTICLE_PHASES = (2, 4)  # active material and its cracks: the particle envelope
# voxels: chunk edge of the scratch stores. A haloed read decodes whole chunks, so smaller
# ones decode less beyond the block, but each chunk costs Zarr Python work under the GIL:
# at 512³ the particle stage took 14.1-15.2 s with 128 against 16.3-17.6 s with 64
# (alternating), peak RSS 1.13 against 1.00 GiB
STORE_CHUNK = 128


def _fit(data, depth):
    """Rechunk axes the halo would cover entirely to one chunk (no halo needed there)."""
    whole = {a for a, d in depth.items() if d >= data.shape[a]}
    if whole:
        data = data.rechunk({a: -1 for a in whole})
    return data, {a: (0 if a in whole else d) for a, d in depth.items()}


def _halo(length, spacing):
    return {a: math.ceil(length / s) + 1 for a, s in enumerate(spacing)}


def _edt_block(mask, spacing, clip):
    # voxels whose nearest background lies beyond the halo would get distances
    # that depend on the block; clipping makes them all ``clip``
    return clipped_distance(mask, spacing, clip)


def particle_distance(mask, *, spacing=None, max_radius: float = 15.0) -> da.Array:
    """Distance (µm, or voxels without spacing) from each particle voxel to the nearest non-particle voxel.

    Exact below ``max_radius`` and clipped to it; chunk by chunk with a halo
    of ``max_radius`` (converted to voxels per axis). The volume's faces are
    not background: particles cut by the field of view keep their depth.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((1, 1, 9), bool); mask[0, 0, 2:7] = True
    >>> particle_distance(mask, max_radius=2.5)[0, 0].compute().tolist()
    [0.0, 0.0, 1.0, 2.0, 2.5, 2.0, 1.0, 0.0, 0.0]
    """
    spacing = check_spacing(spacing if spacing is not None else 1.0, 3)
    mask = as_dask(mask).astype(bool)
    mask, depth = _fit(mask, _halo(max_radius, spacing))
    return mask.map_overlap(_edt_block, depth=depth, boundary="none", dtype=np.float32,
                            spacing=tuple(spacing), clip=float(max_radius), allow_rechunk=True)


def _level_unit(spacing, max_radius):
    """Depth of one distance level: 1/16 of the finest voxel, coarser only if the levels would pass 2¹⁶."""
    return max(float(min(spacing)) / 16, float(max_radius) / 60000)


def _core(shape, block_info, halo):
    """Slices of the core of a ``map_overlap`` block of ``shape`` (boundary "none": no halo beyond the volume)."""
    info = block_info[0]
    return tuple(slice(0 if i == 0 else d, n - (0 if i == count - 1 else d))
                 for i, count, d, n in zip(info["chunk-location"], info["num-chunks"], halo, shape))


def _levels_block(mask, spacing, clip, unit, halo, block_info=None):
    """The block's core (without its halo) of the distance in steps of ``unit``."""
    return _levels(mask, spacing, clip, unit, _core(mask.shape, block_info, halo))


def _levels_of_phases(inner, phases, particle_phases, spacing, clip, unit):
    """:func:`_levels_block` of a block of the phase map read with its halo (``inner``: the core)."""
    return _levels(_particle_mask(phases, particle_phases), spacing, clip, unit, inner)


def _levels(mask, spacing, clip, unit, core):
    distance = clipped_distance(mask, spacing, clip, core)
    np.multiply(distance, np.float32(1 / unit), out=distance)
    return np.rint(distance, out=distance).astype(np.uint16)


def _particle_mask(phases, particle_phases):
    # a chain of comparisons: ``isin`` sorts, and took 0.25 s of a 287³ block against 0.01 s
    return phases if phases.dtype == bool else functools.reduce(operator.or_, [phases == p for p in particle_phases])


@numba.njit(cache=True, nogil=True)
def _regional_peaks(levels, min_level):  # pragma: no cover - compiled
    """``levels >= maximum_filter(levels, 3, mode="nearest")`` and ``>= min_level``:
    the 3×3×3 maximum as three passes of three, fused with the comparison
    (0.09 s for a 258³ block, against 0.33 s for scipy's filter and comparisons)."""
    nz, ny, nx = levels.shape
    along_x = np.empty_like(levels)
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                along_x[z, y, x] = max(levels[z, y, max(x - 1, 0)], levels[z, y, x],
                                       levels[z, y, min(x + 1, nx - 1)])
    along_y = np.empty_like(levels)
    for z in range(nz):
        for y in range(ny):
            low, high = max(y - 1, 0), min(y + 1, ny - 1)
            for x in range(nx):
                along_y[z, y, x] = max(along_x[z, low, x], along_x[z, y, x], along_x[z, high, x])
    peaks = np.empty(levels.shape, np.bool_)
    for z in range(nz):
        low, high = max(z - 1, 0), min(z + 1, nz - 1)
        for y in range(ny):
            for x in range(nx):
                value = levels[z, y, x]
                peaks[z, y, x] = value >= min_level and value >= max(
                    along_y[low, y, x], along_y[z, y, x], along_y[high, y, x])
    return peaks


def _marker_block(levels, min_level):
    return _regional_peaks(np.ascontiguousarray(levels), int(min_level))


def _work_chunks(array, halo):
    """Chunks at least 8 halos wide (whole multiples of the given ones), so the
    halo adds under 2× the work; capped at the volume's size. A last chunk
    thinner than the halo joins the one before (overlap needs a halo's depth of
    neighbour)."""
    chunks = {}
    for axis, (sizes, depth) in enumerate(zip(array.chunks, halo.values())):
        step = max(sizes)
        step = min(array.shape[axis], step * max(1, math.ceil(8 * depth / step)))
        edges = [step] * (array.shape[axis] // step)
        if array.shape[axis] % step:
            edges.append(array.shape[axis] % step)
        if len(edges) > 1 and edges[-1] < depth:
            edges[-2:] = [edges[-2] + edges[-1]]
        chunks[axis] = tuple(edges)
    return array.rechunk(chunks)


@numba.njit(cache=True, nogil=True)
def _numbered(grown, rest, merged, leftover):  # pragma: no cover - compiled
    """Final particle number per voxel: ``leftover[rest]`` where a leftover
    piece lies, else ``merged[grown]`` (one pass instead of two lookups and a ``where``)."""
    out = np.empty(grown.shape, np.uint32)
    flat_out, flat_grown, flat_rest = out.ravel(), grown.ravel(), rest.ravel()
    for i in range(flat_out.size):
        piece = flat_rest[i]
        flat_out[i] = leftover[piece] if piece else merged[flat_grown[i]]
    return out


def _store_chunks(blocks):
    """Scratch store chunks: per axis the largest divisor of the block edge from
    16 to ``STORE_CHUNK`` voxels (blocks must be whole numbers of them), else the edge."""
    edges = [sizes[0] for sizes in blocks]
    return tuple(next((d for d in range(min(STORE_CHUNK, edge), 15, -1) if edge % d == 0), edge) for edge in edges)


SKIP = np.uint32(0xFFFFFFFF)  # a neighbour whose faces another task scans


def _watershed_and_scan(location, inner, levels, markers, *, target):
    """Flood one block (read with its halo), write its core to ``target`` and
    summarise the core's faces (:func:`_scan_faces`): each region's peak
    distance, surface and voxels and, per pair of touching regions, the
    highest distance on their common faces and their number; a face's
    distance is the lower of its two voxels'.

    Faces to the next block are left to :func:`_seam_scan`, which reads the
    two voxel layers of each seam: a scan of the stored block with a
    one-voxel halo decoded every store chunk the halo touches (64 of 128³
    for a 256³ block, 8× the block, for the watershed and the levels alike).
    Faces on the volume's faces face the outside (label 0).
    """
    from ._flood import flood_descending

    # every particle voxel is at least one voxel from the background: level ≥ 16
    core = flood_descending(levels, markers, levels > 0)[inner]
    target[location] = core
    shell = tuple(n + 2 for n in core.shape)
    labels = np.full(shell, SKIP, np.uint32)
    labels[1:-1, 1:-1, 1:-1] = core
    distance = np.zeros(shell, levels.dtype)
    distance[1:-1, 1:-1, 1:-1] = levels[inner]
    for axis, (where, n) in enumerate(zip(location, target.shape)):
        face = [slice(1, -1)] * 3
        if where.start == 0:
            face[axis] = 0
            labels[tuple(face)] = 0
        if where.stop == n:
            face[axis] = -1
            labels[tuple(face)] = 0
    first, peak, surface, voxels, pairs, unreached = _scan_faces(labels, distance, SKIP)
    index = np.flatnonzero(surface >= 0)
    regions = np.column_stack([index + first, peak[index], surface[index], voxels[index]])
    return regions, pairs, unreached


def _seams(blocks, shape):
    """Per block and axis with a next block: the two voxel layers either side of their seam."""
    from .._scratch import _locations

    for location in _locations(blocks):
        for axis in range(3):
            stop = location[axis].stop
            if stop < shape[axis]:
                slab = list(location)
                slab[axis] = slice(stop - 1, stop + 1)
                yield tuple(slab), axis


def _seam_scan(grown, levels, slab, axis):
    """The faces across one seam between blocks, as :func:`_watershed_and_scan` summarises a core's:
    both sides' surfaces, and per touching pair its highest face distance and face count."""
    lower, upper = np.moveaxis(grown[slab], axis, 0).reshape(2, -1)
    low_distance, up_distance = np.moveaxis(levels[slab], axis, 0).reshape(2, -1)
    differ = lower != upper
    index, surface = np.unique(np.concatenate([lower[differ], upper[differ]]), return_counts=True)
    surface, index = surface[index > 0], index[index > 0]
    zero = np.zeros(len(index))
    regions = np.column_stack([index, zero, surface, zero]).astype(np.float64)
    both = differ & (lower > 0) & (upper > 0)
    a, b = lower[both].astype(np.int64), upper[both].astype(np.int64)
    keys, necks, faces = _pair_sums((np.minimum(a, b) << 32) | np.maximum(a, b),
                                    np.minimum(low_distance[both], up_distance[both]).astype(np.float64),
                                    np.ones(len(a)))
    return regions, np.column_stack([keys >> 32, keys & 0xFFFFFFFF, necks, faces]).astype(np.float64), 0


def _pair_sums(keys, necks, faces):
    """Per distinct pair key (a << 32 | b), in order: the highest neck and the summed faces."""
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    if not len(starts):
        return keys[:0], np.empty(0), np.empty(0)
    return keys[starts], np.maximum.reduceat(necks[order], starts), np.add.reduceat(faces[order], starts)


@numba.njit(cache=True, nogil=True)
def _rehashed(keys, necks, faces):  # pragma: no cover - compiled
    bigger = np.full(2 * keys.size, -1, np.int64)
    bigger_necks, bigger_faces = np.zeros(bigger.size), np.zeros(bigger.size)
    for old in range(keys.size):
        if keys[old] != -1:
            slot = table_slot(bigger, keys[old])
            bigger[slot], bigger_necks[slot], bigger_faces[slot] = keys[old], necks[old], faces[old]
    return bigger, bigger_necks, bigger_faces


@numba.njit(cache=True, nogil=True)
def _scan_faces(labels, distance, skip):  # pragma: no cover - compiled
    """One pass over the core voxels for :func:`_watershed_and_scan`: the lowest
    label, and peak, surface and voxels per label from it (surface -1 where the label is absent),
    per touching pair (a < b) the highest face distance and the number of
    faces, as rows (a, b, neck, faces) in order of (a, b), and the number of
    particle voxels (distance > 0) that no seed reached. Neighbours labelled
    ``skip`` are left out (their faces are scanned elsewhere).

    Compiled and free of the GIL: the NumPy version of this scan held it,
    and took as long as the watershed (2.3 s at 256³). The pairs are summed
    in a hash table as the faces are met: a 318³ block has 1.6 million faces
    between regions but 32 000 pairs, and sorting the faces took as long as
    the scan.
    """
    nz, ny, nx = labels.shape
    # per-label rows from the block's lowest label to its highest: from 1, a block
    # of a 2048³ volume would allocate rows for millions of absent labels
    first, n = np.iinfo(np.int64).max, 0
    for z in range(1, nz - 1):
        for y in range(1, ny - 1):
            for x in range(1, nx - 1):
                value = np.int64(labels[z, y, x])
                if value:
                    first, n = min(first, value), max(n, value)
    first = min(first, n)
    peak = np.zeros(n - first + 1)
    surface = np.full(n - first + 1, -1.0)
    voxels = np.zeros(n - first + 1)
    keys = np.full(4096, -1, np.int64)  # a << 32 | b
    necks, faces = np.zeros(keys.size), np.zeros(keys.size)
    used, last_key, slot, unreached = 0, np.int64(-1), 0, 0
    # rows of the voxel and of its six neighbours: one-dimensional reads in the inner loop
    for z in range(1, nz - 1):
        for y in range(1, ny - 1):
            # room for a new pair at every face of the row: the table is not replaced
            # while a row is scanned (an array reassigned in that loop stays out of registers)
            while 2 * (used + 3 * nx) > keys.size:
                keys, necks, faces = _rehashed(keys, necks, faces)
                last_key = np.int64(-1)
            row, row_distance = labels[z, y], distance[z, y]
            below_z, below_y = labels[z - 1, y], labels[z, y - 1]
            above_z, above_y = labels[z + 1, y], labels[z, y + 1]
            above_z_distance, above_y_distance = distance[z + 1, y], distance[z, y + 1]
            for x in range(1, nx - 1):
                own = row[x]
                if own == 0:
                    if row_distance[x] > 0:
                        unreached += 1
                    continue
                row_of = own - first
                if surface[row_of] < 0:
                    surface[row_of] = 0.0
                voxels[row_of] += 1
                own_distance = row_distance[x]
                peak[row_of] = max(peak[row_of], float(own_distance))
                faces_out = 0
                for before in (below_z[x], below_y[x], row[x - 1]):
                    if before != own and before != skip:
                        faces_out += 1
                nexts = (above_z[x], above_y[x], row[x + 1])
                next_distances = (above_z_distance[x], above_y_distance[x], row_distance[x + 1])
                for k in range(3):
                    other = nexts[k]
                    if other == own or other == skip:
                        continue
                    faces_out += 1
                    if other > 0:
                        key = (np.int64(min(own, other)) << 32) | np.int64(max(own, other))
                        if key != last_key:  # faces come in runs along a boundary
                            slot = table_slot(keys, key)
                            last_key = key
                        if keys[slot] == -1:
                            keys[slot] = key
                            necks[slot] = -1.0
                            used += 1
                        necks[slot] = max(necks[slot], float(min(own_distance, next_distances[k])))
                        faces[slot] += 1
                surface[row_of] += faces_out
    filled = np.flatnonzero(keys != -1)
    filled = filled[np.argsort(keys[filled])]
    pairs = np.empty((filled.size, 4))
    for row in range(filled.size):
        slot = filled[row]
        pairs[row, 0] = keys[slot] >> 32
        pairs[row, 1] = keys[slot] & 0xFFFFFFFF
        pairs[row, 2] = necks[slot]
        pairs[row, 3] = faces[slot]
    return first, peak, surface, voxels, pairs, unreached


def _region_graph(parts, n_markers):
    """Sum the per-block summaries: peak, surface and voxels per region; the
    touching pairs (a < b) in order, with their neck (highest face distance) and common faces.

    The pair rows of all blocks (8.8 million at 2048³) are reduced by one sort
    of their packed (a, b) keys: pandas' two-key groupby held several copies of
    them, and the particle stage's peak at 2048³ (2.5 GiB) came from there.
    """
    peaks, surfaces, voxels = np.zeros(n_markers + 1), np.zeros(n_markers + 1), np.zeros(n_markers + 1)
    for regions, _, _ in parts:
        if len(regions):
            index = regions[:, 0].astype(np.int64)
            np.maximum.at(peaks, index, regions[:, 1])
            np.add.at(surfaces, index, regions[:, 2])
            np.add.at(voxels, index, regions[:, 3])
    rows = np.concatenate([part[1] for part in parts]) if parts else np.empty((0, 4))
    keys, necks, shared = _pair_sums((rows[:, 0].astype(np.int64) << 32) | rows[:, 1].astype(np.int64),
                                     rows[:, 2], rows[:, 3])
    ends = np.column_stack([keys >> 32, keys & 0xFFFFFFFF])
    return peaks, surfaces, voxels, ends, necks, shared


def _merge_lookup(parts, n_markers, neck_ratio, contact_share):
    """Merge touching regions that are one particle (:func:`._merge.merge_regions`);
    lookup from marker id to particle 1..n in raster order of the markers, n,
    and the voxels of each particle 0..n."""
    from ._merge import merge_regions

    n_markers = int(n_markers)
    peaks, surfaces, voxels, ends, necks, shared = _region_graph(parts, n_markers)
    roots = merge_regions(ends, necks, shared, peaks, surfaces, neck_ratio=neck_ratio, contact_share=contact_share)
    while True:  # follow chains to the set's root
        nxt = roots[roots]
        if np.array_equal(nxt, roots):
            break
        roots = nxt
    kept = np.unique(roots[1:])
    number = np.zeros(n_markers + 1, np.uint32)
    number[kept] = np.arange(1, len(kept) + 1, dtype=np.uint32)
    lookup = number[roots]
    return lookup, len(kept), np.bincount(lookup, weights=voxels, minlength=len(kept) + 1).astype(np.int64)


def _distance_levels(phases, mask, depth, particle_phases, spacing, max_radius, unit):
    """The quantised distance (uint16 levels of ``unit``) in the work blocks of ``mask``, lazily.

    From a Zarr phase map each block is read with its halo straight from the
    store (:func:`ssbimage._scratch.map_haloed`); ``map_overlap`` instead holds
    the neighbouring work blocks whole to cut their halos, and a batch of 8
    work blocks of 256³ took 2.3 GiB at 2048³ (docs/performance.md, item 41).
    """
    from .._scratch import map_haloed

    arguments = dict(spacing=tuple(spacing), clip=float(max_radius), unit=unit)
    if is_zarr_array(phases):
        return map_haloed(_levels_of_phases, [phases], chunks=mask.chunks, depth=list(depth.values()),
                          dtype=np.uint16, located=True, particle_phases=tuple(particle_phases), **arguments)
    return mask.map_overlap(_levels_block, depth=depth, boundary="none", trim=False, dtype=np.uint16,
                            chunks=mask.chunks, halo=tuple(depth.values()), **arguments)


def segment_particles(phases, *, spacing=None, particle_phases=PARTICLE_PHASES,
                      max_radius: float = 15.0, min_radius: float | None = None,
                      neck_ratio: float = 0.9, contact_share: float = 0.3,
                      min_volume: float | None = None, scratch_dir=None):
    """Split the particle phase into particles with a distance-transform watershed.

    Parameters
    ----------
    phases : (Z, Y, X) array or Volume
        Phase map (DESIGN.md codes) or a boolean particle mask. A Zarr array
        is read block by block with its halos, which takes the least memory
        (:func:`ssbimage.pipeline.analyze` passes its checkpoint so).
    spacing : float or (3,) floats, optional
        Voxel size in µm; lengths below are in µm with it, in voxels without.
    particle_phases : tuple of int
        Phase codes that make up a particle (active material and cracks).
    max_radius : float
        Largest particle radius expected; sets the halo (so the memory per
        chunk) and the depth at which distances are clipped.
    min_radius : float, optional
        Distance peaks lower than this start no particle (default 1 voxel);
        thinner pieces join their neighbour or, if isolated, are particles of
        their own.
    neck_ratio : float
        Two touching regions are one particle when the distance on their
        common boundary (the neck) is at least this fraction of the lower of
        their two peaks. Sintered spheres that overlap by 15 % of the smaller
        radius have necks of ~0.4; the digitisation ripples of one particle's
        distance map, and the second peak a particle cut by the volume's
        face shows on that face, lie above 0.9.
    contact_share : float
        Two touching regions are also one particle when the voxel faces they
        share are at least this share of the smaller one's surface: a
        particle cut in two by a dent in its outline leaves halves that share
        about a third of their surface, while particles in sintered contact
        share a neck of a few percent of theirs.
    min_volume : float, optional
        Particles smaller than this (µm³, or voxels without spacing) are
        dropped: specks of misclassified voxels, not particles. Default: a
        ball of radius one voxel (4.2 voxels).
    scratch_dir : path, optional
        Where the distance map and the watershed are written once (Zarr,
        lz4-compressed) so that later steps read them instead of recomputing;
        default the system's temporary folder. The files are removed once
        the returned labels are no longer referenced.

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
        Particles 1..n in raster order of their first peak voxel, then
        isolated thin fragments in raster order (order kept after dropping
        the small ones).
    n : int
        Number of particles.

    Notes
    -----
    Every regional maximum of the distance map seeds a region (markers
    labelled with the stitched :func:`label`); the watershed of the negated
    distance grows them per chunk; regions are then merged by the depth of
    the neck between them relative to their peaks, or by the share of their
    surface they have in common, on a graph of the regions, so no step needs
    the whole image.
    Halos: ``max_radius`` for the distance transform and for the watershed,
    one voxel for the peaks and the necks, per axis in voxels.
    Memory per chunk grows with (chunk + 2 × halo)³.

    Examples
    --------
    >>> import numpy as np
    >>> z, y, x = np.ogrid[:20, :20, :34]
    >>> two = ((z - 10)**2 + (y - 10)**2 + (x - 10)**2 <= 49) | ((z - 10)**2 + (y - 10)**2 + (x - 23)**2 <= 49)
    >>> labels, n = segment_particles(two, max_radius=10)
    >>> n, labels[10, 10, [10, 23]].compute().tolist()
    (2, [1, 2])
    """
    from .._scratch import BATCH, haloed_parts, map_haloed, scratch_store, stash_zarr

    spacing = check_spacing(1.0 if spacing is None else spacing, 3)
    voxel = float(min(spacing))
    min_radius = voxel if min_radius is None else float(min_radius)
    mask = _particle_mask(as_dask(phases), particle_phases)
    halo = _halo(max_radius, spacing)
    mask, depth = _fit(_work_chunks(mask, halo), halo)
    blocks = mask.chunks
    unit = _level_unit(spacing, max_radius)
    # the work blocks are large (256³ and a halo): one per thread at a time
    scratch = {"scratch_dir": scratch_dir, "batch": kernel_threads(), "store_chunks": _store_chunks(blocks)}
    # the quantised distance is written once: the markers, the watershed and
    # the necks all read it, each block with its halo straight from the store
    # the distance is computed for the core only (its passes skip what the halo alone needs)
    # in the scratch stores' batches of 8 blocks, not one per thread: each batch
    # reads its blocks' neighbours again for their halos (1024³: 37.2 s in
    # batches of 2, 23.4 s of 8, 22.1 s of 16, before batches handed on their shared
    # inputs (notes item 38); 512³ has 8 blocks in all)
    levels = stash_zarr(_distance_levels(phases, mask, depth, particle_phases, spacing, max_radius, unit),
                        name="distance", **{**scratch, "batch": BATCH})
    peaks = map_haloed(_marker_block, [levels], chunks=blocks, depth=(1, 1, 1), dtype=bool,
                       min_level=math.ceil(min_radius / unit - 0.5))
    markers, n_markers = label(peaks)
    markers = stash_zarr(markers.rechunk(blocks), name="markers", **scratch)
    grown = scratch_store(mask.shape, np.uint32, scratch["store_chunks"], scratch_dir=scratch_dir, name="watershed")
    parts = compute_in_batches(haloed_parts(functools.partial(_watershed_and_scan, target=grown), [levels, markers],
                                            chunks=blocks, depth=list(depth.values()), located=True),
                               batch=scratch["batch"])
    parts += compute_in_batches([dask.delayed(_seam_scan)(grown, levels, slab, axis)
                                 for slab, axis in _seams(blocks, mask.shape)], batch=2 * scratch["batch"])
    grown = da.from_zarr(grown, chunks=blocks)
    lookup, n_merged, merged_voxels = _merge_lookup(parts, int(n_markers), neck_ratio, contact_share)
    # the saddle scan counted the particle voxels no seed reached (it sees
    # the mask as level > 0, which every particle voxel has while a level is
    # finer than two voxels); usually there are none, and labelling them
    # would read the whole volume twice for nothing (1.4 s of 17 at 512³)
    unreached = sum(part[2] for part in parts) if unit < 2 * voxel else 1
    if unreached:
        # particle sizes from the region graph's voxel counts and the leftovers'
        # own, counted as they are labelled: counting the labels would compute them once more
        rest, _, rest_counts = label_and_count(mask & (grown == 0))
        rest_voxels = rest_counts[0, 1:]
    else:
        rest, rest_voxels = None, np.empty(0, np.int64)
    voxels = np.concatenate([merged_voxels, rest_voxels])
    voxel_volume = float(np.prod(spacing))
    min_volume = 4 / 3 * np.pi * voxel_volume if min_volume is None else float(min_volume)
    number = kept_numbers(voxels * voxel_volume >= min_volume)  # merged particles first, then the leftovers
    if rest is None:  # a lookup, as in keep_labels (0.07 s per 256³ block)
        table = number[lookup]
        labels = grown.map_blocks(lambda block: table[block], dtype=np.uint32)
    else:
        labels = da.map_blocks(_numbered, grown, rest, dtype=np.uint32, merged=number[lookup],
                               leftover=np.concatenate([[0], number[n_merged + 1:]]).astype(np.uint32))
    return labels, int(np.count_nonzero(number))
