"""What the surface measures share: smoothing, marching cubes, the curvature correction,
thin gaps, and the haloed blocks and exact sums that make areas chunk invariant.

Used by :func:`ssbimage.measure.label_surface_areas` (envelopes, module
``_envelopes``) and :func:`ssbimage.measure.interface_areas` (module ``_faces``).
"""

from __future__ import annotations

import itertools
import math

import dask.array as da
import numba
import numpy as np

from .._arrays import delayed_blocks, task
from .._compiled import grown

__all__ = ["curvature_factors", "gap_voxels"]

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
    """Per marching-cubes cell of ``field`` crossed by the ``level`` set: the area (µm²) of its
    triangles and their area-weighted centroid (voxels).

    Each crossing is interpolated in float64 from the two grid values of
    its cell edge, relative to the cell, so a cell comes out the same
    in any block that holds it. A triangle's area vector scales with
    the product of the other two spacings; degenerate triangles are dropped.
    One row per cell rather than per triangle: the curvature correction
    varies over many voxels, and evaluating it once per cell halves its cost.
    Rows of cells whose four voxel rows all lie on one side of the level
    are skipped whole.
    """
    nz, ny, nx = field.shape
    scale = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]])
    capacity = 1024
    centroids = np.empty((capacity, 3))
    areas = np.empty(capacity)
    count = 0
    values = np.empty(8)
    points = np.empty((12, 3))
    lowest = np.empty((nz, ny))
    highest = np.empty((nz, ny))
    for z in range(nz):
        for y in range(ny):
            lowest[z, y], highest[z, y] = field[z, y, :].min(), field[z, y, :].max()
    for z in range(nz - 1):
        for y in range(ny - 1):
            if (max(highest[z, y], highest[z + 1, y], highest[z, y + 1], highest[z + 1, y + 1]) < level
                    or min(lowest[z, y], lowest[z + 1, y], lowest[z, y + 1], lowest[z + 1, y + 1]) >= level):
                continue
            # corners 4–7 are corners 0–3 one voxel on in x: each cell reads
            # only its upper x face and takes the lower one from the cell before
            for c in range(4):
                values[c + 4] = field[z + corners[c, 0], y + corners[c, 1], 0]
            upper = 0
            for c in range(4):
                if values[c + 4] < level:
                    upper |= 1 << c
            for x in range(nx - 1):
                lower = upper
                upper = 0
                for c in range(4):
                    values[c] = values[c + 4]
                    values[c + 4] = field[z + corners[c, 0], y + corners[c, 1], x + 1]
                    if values[c + 4] < level:
                        upper |= 1 << c
                case = lower | (upper << 4)
                if case == 0 or case == 255:
                    continue
                for e in range(12):
                    a, b = edges[e, 0], edges[e, 1]
                    if (values[a] < level) != (values[b] < level):
                        t = (level - values[a]) / (values[b] - values[a])
                        for i in range(3):
                            points[e, i] = corners[a, i] + t * (corners[b, i] - corners[a, i])
                cell_area, cz, cy, cx = 0.0, 0.0, 0.0, 0.0
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
                    cell_area += area
                    cz += area * (points[p, 0] + points[q, 0] + points[r, 0]) / 3
                    cy += area * (points[p, 1] + points[q, 1] + points[r, 1]) / 3
                    cx += area * (points[p, 2] + points[q, 2] + points[r, 2]) / 3
                if cell_area <= 0:
                    continue
                if count == capacity:
                    capacity *= 2
                    centroids, areas = grown(centroids, capacity), grown(areas, capacity)
                centroids[count, 0] = z + cz / cell_area
                centroids[count, 1] = y + cy / cell_area
                centroids[count, 2] = x + cx / cell_area
                areas[count] = cell_area
                count += 1
    return centroids[:count], areas[:count]


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
    """Per point (a meshed cell's centroid): 1 / (area ratio of the smoothed level set to the surface it came from).

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


def _assembled(blocks, counts, halo, edges):
    """One haloed block from a C-ordered group of neighbouring haloed blocks (``counts`` per axis):
    each keeps its core, and its halo on the sides facing out of the group; then the
    volume's own edge voxels repeated where the group meets the volume's faces
    (``edges``: per axis, the voxels to add before and after)."""
    grid = np.empty(counts, object)
    for index, block in zip(np.ndindex(*counts), blocks):
        grid[index] = block
    for axis, h in enumerate(halo):
        n = counts[axis]
        if n == 1:
            continue
        rest = [range(c) for a, c in enumerate(grid.shape) if a != axis]
        joined = np.empty(grid.shape[:axis] + grid.shape[axis + 1:], object)
        for other in itertools.product(*rest):
            line = [grid[other[:axis] + (i,) + other[axis:]] for i in range(n)]
            joined[other] = np.concatenate([_inner_part(b, axis, h, i == 0, i == n - 1)
                                            for i, b in enumerate(line)], axis=axis)
        grid = joined.reshape(grid.shape[:axis] + (1,) + grid.shape[axis + 1:])
    block = grid.reshape(-1)[0]
    return np.pad(block, edges, mode="edge") if any(map(any, edges)) else block


def _haloed_blocks(arrays, halo, least=None):
    """Delayed haloed blocks of each array (same chunks), with each block's core shape and whether
    it starts and ends at the volume's faces (per axis).

    The blocks are the arrays' chunks or, with ``least``, groups of
    neighbouring chunks at least that many voxels per axis, assembled from the
    chunks' own haloed blocks: a haloed block of the grouped array would make
    ``da.overlap`` load each neighbouring group whole (27 blocks of 64 MiB for
    256³ blocks of labels, docs/performance.md item 22). Beyond the volume's
    faces the halo repeats the edge voxels (``nearest``).

    ``da.overlap`` is asked for no boundary and the edge voxels are repeated in
    the block's own task: its ``nearest`` boundary adds a layer of padding
    chunks around the volume, each cut into pieces, and took the graph of a
    4³-chunk volume from 1 129 tasks to 5 201 (item 35).
    """
    arrays = [a.rechunk(tuple(da.overlap.ensure_minimum_chunksize(h, c) for h, c in zip(halo, a.chunks)))
              for a in arrays]
    cores = [list(c) for c in arrays[0].chunks]
    depth = dict(enumerate(halo))
    padded = [da.overlap.overlap(a, depth=depth, boundary="none") for a in arrays]
    if least is None:
        groups = [[1] * len(c) for c in cores]
    else:
        groups = [_grouped(c, n) for c, n in zip(cores, least)]
    delayed = [delayed_blocks(p) for p in padded]
    starts = [np.concatenate([[0], np.cumsum(g)]) for g in groups]
    for group in np.ndindex(*(len(g) for g in groups)):
        span = tuple(range(int(s[i]), int(s[i + 1])) for s, i in zip(starts, group))
        counts = tuple(len(r) for r in span)
        core = tuple(sum(c[j] for j in r) for c, r in zip(cores, span))
        at_start = tuple(r[0] == 0 for r in span)
        at_end = tuple(r[-1] == len(c) - 1 for r, c in zip(span, cores))
        edges = tuple((h if start else 0, h if end else 0) for h, start, end in zip(halo, at_start, at_end))
        if counts == (1, 1, 1) and not any(map(any, edges)):
            blocks = [d[tuple(r[0] for r in span)] for d in delayed]
        else:
            blocks = [task(_assembled, [d[index] for index in itertools.product(*span)], counts, halo, edges)
                      for d in delayed]
        yield blocks, core, at_start, at_end


#: the chunks a batch of haloed blocks reads may take this much memory
READ_ONCE_BYTES = 1 << 30
#: every block in one go while two layers of chunks take at most this much: 1.5 GiB takes a 1024³
#: volume's phases and particles (1.25 GiB) in one go. Its analysis took 213.6 s against 240.8 s in
#: batches (metrics 76.3 against 105.4 s) at a peak of 2.46 against 1.82 GiB (item 45; run 31 peaked at
#: 2.93 GiB in one go, with the envelopes' pass still beside it)
ONE_GO_BYTES = 3 << 29


def _batch_within(arrays, budget=READ_ONCE_BYTES, least=8, one_go=ONE_GO_BYTES) -> int:
    """Blocks per batch of haloed chunks whose chunks and neighbours fit in ``budget`` bytes,
    at least ``least``; every block at once where two layers of chunks fit in ``one_go``.

    Each batch reads its neighbours' chunks again, but for what the previous
    batch hands on (:func:`ssbimage._arrays.compute_in_batches`). In one go Dask works
    through the blocks in order and holds the decoded chunks until their last
    neighbour is done, about two layers of chunks along z, and reads each once:
    a 512³ volume's interface areas took 10.5–11.2 s in batches of 8 against
    9.4–9.9 s in one go, at a peak of 0.80 against 1.04 GiB (item 36); a
    1024³ volume's took 146–157 s against 188–201 s in batches of 16, at a
    peak of 2.22–2.35 against 1.38–1.39 GiB on their own (item 43).
    Otherwise a batch of b consecutive chunks (C order) reads the
    3 × 3 × (b + 2) chunks around them, or 3 × (rows + 2) rows of chunks once it
    spans whole rows, and stops at one layer of chunks. At 1024³ in 128³
    chunks a batch of 8 (one row) reads 9 chunks per block and 16 reads 6; at
    2048³ the budget keeps it at 9 (item 37).
    """
    if 2 * sum(a.nbytes for a in arrays) // arrays[0].numblocks[0] <= one_go:
        return math.prod(arrays[0].numblocks)
    chunk_bytes = sum(a.dtype.itemsize * math.prod(a.chunksize) for a in arrays)
    rows, per_row = arrays[0].numblocks[1], arrays[0].numblocks[2]

    def around(b):
        if b <= per_row:
            return 9 * (b + 2)
        return 3 * (min(-(-b // per_row), rows) + 2) * per_row

    best = least
    for b in range(least, rows * per_row + 1):
        if around(b) * chunk_bytes > budget:
            break
        best = b
    return best
