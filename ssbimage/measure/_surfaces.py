"""Whole surfaces of instances by marching cubes, and the chunking helpers of area sums.

:func:`label_surface_areas` meshes the 0.5 level set of each instance's
indicator smoothed with σ = 0.8 voxel (marching cubes with Lorensen & Cline's
table, compiled), inside
the instance's box in each block, and divides each triangle's area by the
smoothing's mean-curvature shrinkage (:func:`curvature_factors`): a sphere
of r = 10 voxels within 1 %, of r = 5 within 0.5 %. It gives the envelope
area behind a particle's sphericity. Interfaces between phases are measured
by :func:`ssbimage.measure.interface_areas` (voxel faces with estimated
normals), which also keeps thin gaps and attributes every face exactly.

Chunking: every block is read with a halo and meshes the marching-cubes
cells whose lowest corner lies in it (one voxel beyond its upper faces, none
beyond the volume's): every cell is counted in exactly one block. Vertices
are interpolated in float64 relative to their cell and areas summed as
integers of 2⁻³² µm².
"""

from __future__ import annotations

import functools
import itertools
import math

import dask
import dask.array as da
import numba
import numpy as np
import pandas as pd
from scipy import ndimage

from .._arrays import _is_distributed, as_dask, compute_in_batches, kernel_threads
from .._compiled import grown
from .._spacing import check_spacing

__all__ = ["curvature_factors", "gap_voxels", "label_surface_areas"]

def _sigmas(smoothing, spacing):
    """Smoothing σ per axis in voxels: ``smoothing`` voxels of the coarsest axis, in µm.

    Isotropic in µm, and wide enough to smooth the coarse axis's terraces
    (the curvature correction undoes what it costs on the fine axes).
    """
    spacing = np.asarray(spacing, float)
    return tuple(float(smoothing) * spacing.max() / spacing)


def _halo(sigmas) -> tuple:
    # smoothing reach, and second derivatives interpolated at the centroids
    return tuple(math.ceil(4 * s) + 5 for s in sigmas)


_DIRECTIONS = [d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0)]
INNER_PAD = 2  # voxels around a label's box that can hold its surface
# envelopes are meshed per label and block: in blocks of 256³ rather than 128³
# fewer particles are cut by a block face and smoothed twice (512³, same
# session: 17.1–17.5 s in 128³ blocks, 13.4–15.0 s in 256³, identical areas)
ENVELOPE_BLOCK = 256
FIXED_POINT = 2.0 ** 32  # areas summed as integers of 2⁻³² µm², so the order of blocks does not matter


def _shifted(mask, direction, k):
    """``mask`` at v + k·direction for every voxel v (False beyond the array)."""
    out = np.zeros_like(mask)
    src = tuple(slice(max(0, k * d), n + min(0, k * d)) for d, n in zip(direction, mask.shape))
    dst = tuple(slice(max(0, -k * d), n + min(0, -k * d)) for d, n in zip(direction, mask.shape))
    out[dst] = mask[src]
    return out


def gap_voxels(mask):
    """Voxels outside ``mask`` with mask voxels on both sides, at most two voxels apart.

    Along any of the 13 lattice directions d: v − d and v + d in the mask,
    or v − d and v + 2d, or v − 2d and v + d. Needs a halo of 2 voxels.
    """
    gap = np.zeros_like(mask)
    for d in _DIRECTIONS:
        before, after = _shifted(mask, d, -1), _shifted(mask, d, 1)
        gap |= (before & (after | _shifted(mask, d, 2))) | (after & _shifted(mask, d, -2))
    return gap & ~mask


@functools.lru_cache(maxsize=64)
def _gaussian_weights(sigma: float) -> np.ndarray:
    """The weights ``ndimage.gaussian_filter1d(..., truncate=4.0)`` passes to ``correlate1d``
    (scipy's formula), made once per σ: a particle's box is smoothed
    in three short passes, and making the kernel took a sixth of each."""
    radius = int(4.0 * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    weights = weights / weights.sum()
    weights.setflags(write=False)
    return weights[::-1]


def _gaussian_on(field, sigmas, region):
    """``ndimage.gaussian_filter(field, sigmas, mode="nearest", truncate=4.0)`` on ``region``
    (zero elsewhere), bit for bit where the region lies a kernel radius inside the field."""
    smoothed = _smoothed_region(field, sigmas, region)
    out = np.zeros(field.shape, smoothed.dtype)
    out[region] = smoothed
    return out


def _smoothed_region(field, sigmas, region):
    """:func:`_gaussian_on`'s values on ``region`` only, of the region's shape.

    Each 1-D pass runs only on the lines the later passes read, and ends
    cropped to the region along its axis: 40 % less work on a 128³ block
    with the interface halo, 28 % on a particle's box.
    """
    radius = [int(4.0 * s + 0.5) for s in sigmas]
    box = tuple(slice(max(r.start - k, 0), min(r.stop + k, n)) for r, k, n in zip(region, radius, field.shape))
    smoothed = field[box]
    for axis, sigma in enumerate(sigmas):
        smoothed = ndimage.correlate1d(smoothed, _gaussian_weights(float(sigma)), axis=axis, mode="nearest")
        start = region[axis].start - box[axis].start
        keep = [slice(None)] * 3
        keep[axis] = slice(start, start + region[axis].stop - region[axis].start)
        smoothed = smoothed[tuple(keep)]
    return smoothed


def _owned_cells(halo, core, at_end):
    """Slices of a haloed block holding its voxels plus one beyond each inner upper face."""
    return tuple(slice(h, h + n + (0 if end else 1)) for h, n, end in zip(halo, core, at_end))


def _classic_cases():
    """Lorensen & Cline's triangle table (256 cases × up to 5 triangles, edges −1-padded),
    as scikit-image ships it for ``marching_cubes(method="lorensen")``."""
    from skimage.measure import _marching_cubes_lewiner_luts as luts
    from skimage.measure._marching_cubes_lewiner import _to_array

    return np.array(_to_array(luts.CASESCLASSIC), np.int64)


_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])
_CASES = _classic_cases()


@numba.njit(cache=True, nogil=True)
def _march(field, level, cases, corners, edges, spacing):  # pragma: no cover - compiled
    """Centroids (voxels) and areas (µm²) of the marching-cubes triangles of every cell of ``field``.

    Each crossing is interpolated in float64 from the two grid values of
    its cell edge, relative to the cell, so a triangle comes out the same
    in any block that holds its cell. A triangle's area vector scales with
    the product of the other two spacings; degenerate triangles are dropped.
    """
    nz, ny, nx = field.shape
    scale = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]])
    capacity = 1024
    centroids = np.empty((capacity, 3))
    areas = np.empty(capacity)
    count = 0
    values = np.empty(8)
    points = np.empty((12, 3))
    for z in range(nz - 1):
        for y in range(ny - 1):
            for x in range(nx - 1):
                case = 0
                for c in range(8):
                    values[c] = field[z + corners[c, 0], y + corners[c, 1], x + corners[c, 2]]
                    if values[c] < level:
                        case |= 1 << c
                if case == 0 or case == 255:
                    continue
                for e in range(12):
                    a, b = edges[e, 0], edges[e, 1]
                    if (values[a] < level) != (values[b] < level):
                        t = (level - values[a]) / (values[b] - values[a])
                        for i in range(3):
                            points[e, i] = corners[a, i] + t * (corners[b, i] - corners[a, i])
                for k in range(0, 15, 3):
                    if cases[case, k] < 0:
                        break
                    p, q, r = cases[case, k], cases[case, k + 1], cases[case, k + 2]
                    c0 = ((points[q, 1] - points[p, 1]) * (points[r, 2] - points[p, 2])
                          - (points[q, 2] - points[p, 2]) * (points[r, 1] - points[p, 1])) * scale[0]
                    c1 = ((points[q, 2] - points[p, 2]) * (points[r, 0] - points[p, 0])
                          - (points[q, 0] - points[p, 0]) * (points[r, 2] - points[p, 2])) * scale[1]
                    c2 = ((points[q, 0] - points[p, 0]) * (points[r, 1] - points[p, 1])
                          - (points[q, 1] - points[p, 1]) * (points[r, 0] - points[p, 0])) * scale[2]
                    area = 0.5 * np.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
                    if area <= 0:
                        continue
                    if count == capacity:
                        capacity *= 2
                        centroids, areas = grown(centroids, capacity), grown(areas, capacity)
                    centroids[count, 0] = z + (points[p, 0] + points[q, 0] + points[r, 0]) / 3
                    centroids[count, 1] = y + (points[p, 1] + points[q, 1] + points[r, 1]) / 3
                    centroids[count, 2] = x + (points[p, 2] + points[q, 2] + points[r, 2]) / 3
                    areas[count] = area
                    count += 1
    return centroids[:count], areas[:count]


def _triangles(field, spacing):
    """Centroids (voxels) and areas (µm²) of the triangles of the 0.5 level set.

    Marching cubes with Lorensen & Cline's table, compiled (:func:`_march`):
    scikit-image's implementation holds the GIL and ran at 12 Mvox/s on the
    envelopes' boxes, a third of their time.
    """
    if field.min() >= 0.5 or field.max() < 0.5 or min(field.shape) < 2:
        return np.empty((0, 3)), np.empty(0)
    return _march(field, 0.5, _CASES, _CORNERS, _EDGES, np.asarray(spacing, np.float64))


@numba.njit(cache=True, nogil=True)
def _derivatives_at(field, points, spacing):  # pragma: no cover - compiled
    """Gradient and Hessian of ``field`` (central differences of central
    differences, as ``np.gradient`` twice), trilinear at each point.

    Only the voxels around the points are differentiated, each once
    (neighbouring triangles share their cells' corners), instead of the whole
    box; the points must lie 3 voxels inside the field.
    """
    n = points.shape[0]
    gradient = np.zeros((n, 3))
    hessian = np.zeros((n, 3, 3))
    # the 3 unit steps, as flat index offsets
    step = np.array([field.shape[1] * field.shape[2], field.shape[2], 1])
    flat = field.ravel()
    row = np.full(flat.size, -1, np.int64)  # each voxel's row in ``cached``
    cached = np.empty((min(flat.size, 8 * n), 9))  # 3 gradient and 6 Hessian entries per voxel
    used = 0
    for p in range(n):
        z0, y0, x0 = int(np.floor(points[p, 0])), int(np.floor(points[p, 1])), int(np.floor(points[p, 2]))
        fz, fy, fx = points[p, 0] - z0, points[p, 1] - y0, points[p, 2] - x0
        for corner in range(8):
            bz, by, bx = corner & 1, (corner >> 1) & 1, (corner >> 2) & 1
            w = (fz if bz else 1.0 - fz) * (fy if by else 1.0 - fy) * (fx if bx else 1.0 - fx)
            if w == 0.0:
                continue
            v = (z0 + bz) * step[0] + (y0 + by) * step[1] + (x0 + bx)
            k = row[v]
            if k < 0:
                k = row[v] = used
                used += 1
                m = 3
                for i in range(3):
                    si = step[i]
                    cached[k, i] = (flat[v + si] - flat[v - si]) / (2 * spacing[i])
                    for j in range(i, 3):
                        sj = step[j]
                        up = flat[v + sj + si] - flat[v + sj - si]
                        down = flat[v - sj + si] - flat[v - sj - si]
                        cached[k, m] = (up - down) / (4 * spacing[i] * spacing[j])
                        m += 1
            m = 3
            for i in range(3):
                gradient[p, i] += w * cached[k, i]
                for j in range(i, 3):
                    value = w * cached[k, m]
                    m += 1
                    hessian[p, i, j] += value
                    if j != i:
                        hessian[p, j, i] += value
    return gradient, hessian


def curvature_factors(field, centroids, spacing, sigma_um):
    """Per triangle: 1 / (area ratio of the smoothed level set to the surface it came from).

    Gaussian smoothing by σ moves a surface along its normal by about
    ½ σ² (k₁ + k₂) (the heat equation is mean-curvature motion at first
    order), so a sphere of radius r shrinks by σ²/r and its area by
    (1 − σ²/r²)². The principal curvatures are read from the smoothed field's
    gradient and Hessian (µm, trilinear at each centroid), and the area
    element of the parallel surface, 1 − δ(k₁ + k₂) + δ²k₁k₂ with
    δ = ½σ²(k₁ + k₂), is divided out. Needs 3 voxels of valid field around
    the centroids.
    """
    normal, hessian = _derivatives_at(np.ascontiguousarray(field, dtype=np.float64),
                                      np.ascontiguousarray(centroids, dtype=np.float64),
                                      np.asarray(spacing, float))
    return _area_factors(normal, hessian, float(sigma_um))


@numba.njit(cache=True, nogil=True)
def _area_factors(gradient, hessian, sigma_um):  # pragma: no cover - compiled
    """The parallel-surface correction of :func:`curvature_factors`, per point."""
    out = np.empty(gradient.shape[0])
    n = np.empty(3)
    h = np.empty((3, 3))
    ph = np.empty((3, 3))
    shape = np.empty((3, 3))
    for p in range(gradient.shape[0]):
        length = max(np.sqrt(gradient[p, 0] ** 2 + gradient[p, 1] ** 2 + gradient[p, 2] ** 2), 1e-12)
        for i in range(3):
            n[i] = gradient[p, i] / length
        for i in range(3):
            for j in range(3):
                h[i, j] = 0.5 * (hessian[p, i, j] + hessian[p, j, i])
        # shape operator of the level set, -(P H P) / |g| with P = I - n nᵀ,
        # outward normal pointing down the field
        for i in range(3):
            for j in range(3):
                ph[i, j] = h[i, j] - n[i] * (n[0] * h[0, j] + n[1] * h[1, j] + n[2] * h[2, j])
        for i in range(3):
            for j in range(3):
                shape[i, j] = -(ph[i, j] - (ph[i, 0] * n[0] + ph[i, 1] * n[1] + ph[i, 2] * n[2]) * n[j]) / length
        mean2 = shape[0, 0] + shape[1, 1] + shape[2, 2]
        square = 0.0
        for i in range(3):
            for j in range(3):
                square += shape[i, j] * shape[j, i]
        gauss = 0.5 * (mean2 ** 2 - square)
        shift = 0.5 * sigma_um ** 2 * mean2
        out[p] = 1.0 / min(max(1 - shift * mean2 + shift ** 2 * gauss, 0.5), 2.0)
    return out


def _sum_by_key(keys, areas):
    """Rows (key..., summed area) with areas as exact integer multiples of 2⁻³² µm²."""
    keys = np.asarray(keys, np.int64)
    # one int64 per row (mixed radix) sorts far faster than np.unique over rows
    low = keys.min(axis=0) if len(keys) else 0
    span = np.ptp(keys, axis=0) + 1 if len(keys) else np.ones(keys.shape[1], np.int64)
    if len(keys) and np.prod(span.astype(float)) < 2.0 ** 62:
        radix = np.cumprod(np.concatenate([span[1:], [1]])[::-1])[::-1]
        codes, inverse = np.unique((keys - low) @ radix, return_inverse=True)
        keys = low + (codes[:, None] // radix) % span
    else:
        keys, inverse = np.unique(keys, axis=0, return_inverse=True)
    sums = np.zeros(len(keys), np.int64)
    np.add.at(sums, inverse.ravel(), np.rint(areas * FIXED_POINT).astype(np.int64))
    return np.column_stack([keys, sums])


def _grouped(sizes, least):
    """Consecutive chunks gathered into groups of at least ``least`` voxels (the last may be less);
    returns the number of chunks in each group."""
    groups, voxels, count = [], 0, 0
    for size in sizes:
        voxels, count = voxels + size, count + 1
        if voxels >= least:
            groups.append(count)
            voxels, count = 0, 0
    if count:
        groups.append(count)
    return groups


def _inner_part(block, axis, halo, first, last):
    """``block`` without its halo along ``axis``, except on a group's first or last side."""
    keep = [slice(None)] * block.ndim
    keep[axis] = slice(0 if first else halo, block.shape[axis] - (0 if last else halo))
    return block[tuple(keep)]


def _assembled(blocks, counts, halo):
    """One haloed block from a C-ordered group of neighbouring haloed blocks (``counts`` per axis):
    each keeps its core, and its halo on the sides facing out of the group."""
    grid = np.empty(counts, object)
    for index, block in zip(np.ndindex(*counts), blocks):
        grid[index] = block
    for axis, h in enumerate(halo):
        n = counts[axis]
        rest = [range(c) for a, c in enumerate(grid.shape) if a != axis]
        joined = np.empty(grid.shape[:axis] + grid.shape[axis + 1:], object)
        for other in itertools.product(*rest):
            line = [grid[other[:axis] + (i,) + other[axis:]] for i in range(n)]
            joined[other] = np.concatenate([_inner_part(b, axis, h, i == 0, i == n - 1)
                                            for i, b in enumerate(line)], axis=axis)
        grid = joined.reshape(grid.shape[:axis] + (1,) + grid.shape[axis + 1:])
    return grid.reshape(-1)[0]


def _haloed_blocks(arrays, halo, least=None):
    """Delayed haloed blocks of each array (same chunks), with each block's core shape and ends.

    The blocks are the arrays' chunks or, with ``least``, groups of
    neighbouring chunks at least that many voxels per axis, assembled from the
    chunks' own haloed blocks: a haloed block of the grouped array would make
    ``da.overlap`` load each neighbouring group whole (27 blocks of 64 MiB for
    256³ blocks of labels, docs/performance.md item 22).
    Dask may merge a chunk thinner than the halo into its neighbour, so the
    cores are read from the overlapped chunks.
    """
    depth = dict(enumerate(halo))
    padded = [da.overlap.overlap(a, depth=depth, boundary="nearest") for a in arrays]
    cores = [[c - 2 * h for c in sizes] for sizes, h in zip(padded[0].chunks, halo)]
    if least is None:
        groups = [[1] * len(c) for c in cores]
    else:
        groups = [_grouped(c, n) for c, n in zip(cores, least)]
    delayed = [p.to_delayed() for p in padded]
    starts = [np.concatenate([[0], np.cumsum(g)]) for g in groups]
    for group in np.ndindex(*(len(g) for g in groups)):
        span = tuple(range(int(s[i]), int(s[i + 1])) for s, i in zip(starts, group))
        counts = tuple(len(r) for r in span)
        core = tuple(sum(c[j] for j in r) for c, r in zip(cores, span))
        at_end = tuple(r[-1] == len(c) - 1 for r, c in zip(span, cores))
        if counts == (1, 1, 1):
            blocks = [d[tuple(r[0] for r in span)] for d in delayed]
        else:
            blocks = [dask.delayed(_assembled)([d[index] for index in itertools.product(*span)], counts, halo)
                      for d in delayed]
        yield blocks, core, at_end


def _block_label_areas(labels, origin_in_block, core, at_end, sigmas, spacing, curvature):
    owned = _owned_cells(origin_in_block, core, at_end)
    pad = tuple(math.ceil(4 * s) + 3 for s in sigmas)
    rows = []
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        # the cells to mesh: the 0.5 level of the smoothed indicator lies
        # within half a voxel of the label's box, so the box and two voxels,
        # cut to owned cells; the field around them is smoothed from the
        # labels up to the smoothing reach and the derivatives' stencil beyond
        lo = [max(b.start - INNER_PAD, o.start) for b, o in zip(box, owned)]
        hi = [min(b.stop + INNER_PAD, o.stop) for b, o in zip(box, owned)]
        if any(a >= b for a, b in zip(lo, hi)):
            continue
        wide = tuple(slice(max(a - p, 0), min(b + p, n)) for a, b, p, n in zip(lo, hi, pad, labels.shape))
        inner = tuple(slice(a - w.start, b - w.start) for a, b, w in zip(lo, hi, wide))
        # smoothed where the meshing and the curvature's stencils read it
        needed = tuple(slice(max(i.start - 3, 0), i.stop + 3) for i in inner)
        field = _gaussian_on((labels[wide] == k).astype(np.float32), sigmas, needed)
        centroids, areas = _triangles(field[inner], spacing)
        if len(areas) and curvature:
            centroids = centroids + np.array([i.start for i in inner])
            areas = areas * curvature_factors(field, centroids, spacing, sigmas[0] * spacing[0])
        if len(areas):
            rows.append((k, int(np.rint(areas * FIXED_POINT).astype(np.int64).sum())))
    return np.array(rows, np.int64).reshape(-1, 2)


def _envelope_blocks(labels):
    """Least block edge for the envelopes: ENVELOPE_BLOCK where that leaves
    a block for each thread twice over, else the chunks (a 256³ volume in one
    block took 7.3 s on one thread against 2.5 s in 128³ chunks on two).
    Not on a ``dask.distributed`` cluster, where assembling a block moves its
    8 chunks between workers (512³ metrics on 2 workers, alternating runs:
    48.6–54.6 s assembled, mean 52.4; 45.9–51.6 s in chunks, mean 48.7)."""
    from dask.base import get_scheduler

    if _is_distributed(get_scheduler(collections=[labels])):
        return None
    groups = np.prod([len(_grouped(c, ENVELOPE_BLOCK)) for c in labels.chunks])
    return (ENVELOPE_BLOCK,) * 3 if groups >= 2 * kernel_threads() else None


def label_surface_areas(labels, *, spacing=None, smoothing: float = 0.8,
                        curvature_correction: bool = True) -> pd.DataFrame:
    """Whole surface area of each instance (its envelope), chunk by chunk.

    Each label's indicator is smoothed and meshed (module notes), inside
    the label's bounding box in each block, so faces shared with a
    touching neighbour count for both. Surfaces stop at the volume's faces:
    an instance cut by them has an open, smaller surface.

    Parameters
    ----------
    labels : (Z, Y, X) integer array or Volume
    spacing : float or (3,) floats, optional
        Voxel size in µm.
    smoothing : float
        σ of the Gaussian, in voxels of the coarsest axis.
    curvature_correction : bool
        Undo the smoothing's shrinkage of curved surfaces (:func:`curvature_factors`).

    Returns
    -------
    pandas.DataFrame
        ``label, surface_area_um2`` for every label with voxels.

    Examples
    --------
    >>> import numpy as np
    >>> z, y, x = np.ogrid[:32, :32, :32]
    >>> ball = (((z - 15.5) ** 2 + (y - 15.5) ** 2 + (x - 15.5) ** 2) <= 100).astype(np.uint32)
    >>> area = label_surface_areas(ball).surface_area_um2[0]
    >>> round(float(area / (4 * np.pi * 100)), 2)
    1.01
    """
    spacing = check_spacing(getattr(labels, "spacing", 1.0) if spacing is None else spacing, 3)
    labels = as_dask(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    sigmas = _sigmas(smoothing, spacing)
    halo = _halo(sigmas)
    parts = [dask.delayed(_block_label_areas)(blocks[0], halo, core, at_end, sigmas, spacing,
                                              curvature_correction)
             for blocks, core, at_end in _haloed_blocks([labels], halo, least=_envelope_blocks(labels))]
    rows = np.concatenate(compute_in_batches(parts)) if parts else np.empty((0, 2), np.int64)
    table = pd.DataFrame(rows, columns=["label", "surface_area_um2"])
    table = table.groupby("label", as_index=False)["surface_area_um2"].sum()
    return table.assign(surface_area_um2=table.surface_area_um2 / FIXED_POINT)
