"""Connected components of one block by runs along x, compiled and free of the GIL.

connected-components-3d labels a voxel at a time and holds the GIL, so two
threads labelling two blocks take as long as one thread labelling both
(docs/performance.md, items 9 and 12). Phase masks of battery scans are runs
of tens of voxels along a row, so labelling the runs (a union-find over runs
that overlap in the neighbouring rows) touches each voxel once, to find the
runs and once more to write them, and the compiled loops release the GIL.
"""

from __future__ import annotations

import numba
import numpy as np

# neighbouring rows already scanned, as (dz, dy, reach along x): a run touches
# a run of that row if they overlap once widened by ``reach`` voxels
_ROWS = {
    6: ((0, -1, 0), (-1, 0, 0)),
    18: ((0, -1, 1), (-1, 0, 1), (-1, -1, 0), (-1, 1, 0)),
    26: ((0, -1, 1), (-1, -1, 1), (-1, 0, 1), (-1, 1, 1)),
}


@numba.njit(cache=True, nogil=True)
def _find(parent, i):  # pragma: no cover - compiled
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


@numba.njit(cache=True, nogil=True)
def _label_runs(mask, rows):  # pragma: no cover - compiled
    """Runs of ``mask`` (Z, Y, X) and the component of each, numbered in raster order.

    Returns ``row_start`` (first run of each row, Z * Y + 1 entries), the
    runs' ``begin`` and ``end`` along x, their ``labels`` (1..n) and n.
    """
    nz, ny, nx = mask.shape
    n_rows = nz * ny
    row_start = np.empty(n_rows + 1, np.int64)
    # room for the most runs a block can hold: pages never written cost no memory
    capacity = n_rows * ((nx + 1) // 2)
    begin = np.empty(capacity, np.int32)
    end = np.empty(capacity, np.int32)
    parent = np.empty(capacity, np.int32)
    n_runs = 0
    for row in range(n_rows):
        z, y = row // ny, row % ny
        row_start[row] = n_runs
        inside = False
        for x in range(nx):
            value = mask[z, y, x]
            if value and not inside:
                begin[n_runs] = x
            elif inside and not value:
                end[n_runs], parent[n_runs] = x, n_runs
                n_runs += 1
            inside = value
        if inside:
            end[n_runs], parent[n_runs] = nx, n_runs
            n_runs += 1
        # join this row's runs to the runs they touch in the rows scanned before
        for k in range(rows.shape[0]):
            zz, yy, reach = z + rows[k, 0], y + rows[k, 1], rows[k, 2]
            if zz < 0 or yy < 0 or yy >= ny:
                continue
            other = zz * ny + yy
            i, i_stop = row_start[row], n_runs
            j, j_stop = row_start[other], row_start[other + 1]
            while i < i_stop and j < j_stop:
                if end[j] + reach <= begin[i]:  # run j lies wholly before run i
                    j += 1
                elif end[i] + reach <= begin[j]:
                    i += 1
                else:
                    a, b = _find(parent, i), _find(parent, j)
                    if a < b:  # the root is a component's first run: raster order
                        parent[b] = a
                    elif b < a:
                        parent[a] = b
                    if end[i] < end[j]:
                        i += 1
                    else:
                        j += 1
    row_start[n_rows] = n_runs
    labels = np.empty(n_runs, np.uint32)
    n = 0
    for r in range(n_runs):
        root = _find(parent, r)
        if root == r:
            n += 1
            labels[r] = n
        else:
            labels[r] = labels[root]
    return row_start, begin[:n_runs], end[:n_runs], labels, n


@numba.njit(cache=True, nogil=True)
def _paint_runs(shape, row_start, begin, end, values, table):  # pragma: no cover - compiled
    """A (Z, Y, X) uint32 array with run r set to ``table[values[r]]``, the rest 0."""
    out = np.empty(shape, np.uint32)
    ny, nx = shape[1], shape[2]
    for row in range(row_start.shape[0] - 1):
        z, y = row // ny, row % ny
        x = 0
        for r in range(row_start[row], row_start[row + 1]):
            value = table[values[r]]
            while x < begin[r]:
                out[z, y, x] = 0
                x += 1
            while x < end[r]:
                out[z, y, x] = value
                x += 1
        while x < nx:
            out[z, y, x] = 0
            x += 1
    return out


@numba.njit(cache=True, nogil=True)
def _first_runs(row_start, begin, labels, n, nx):  # pragma: no cover - compiled
    """Flat index (in the block) of each component's first voxel."""
    first = np.empty(n, np.int64)
    seen = 0
    for row in range(row_start.shape[0] - 1):
        for r in range(row_start[row], row_start[row + 1]):
            if labels[r] > seen:  # labels first appear in increasing order
                first[seen] = row * nx + begin[r]
                seen += 1
    return first


@numba.njit(cache=True, nogil=True)
def _faces(shape, row_start, begin, end, labels):  # pragma: no cover - compiled
    """Labels on the block's six faces: z first/last, y first/last, x first/last."""
    nz, ny, nx = shape
    z_low, z_high = np.zeros((ny, nx), np.uint32), np.zeros((ny, nx), np.uint32)
    y_low, y_high = np.zeros((nz, nx), np.uint32), np.zeros((nz, nx), np.uint32)
    x_low, x_high = np.zeros((nz, ny), np.uint32), np.zeros((nz, ny), np.uint32)
    for row in range(nz * ny):
        z, y = row // ny, row % ny
        on_face = z == 0 or z == nz - 1 or y == 0 or y == ny - 1
        for r in range(row_start[row], row_start[row + 1]):
            value = labels[r]
            if begin[r] == 0:
                x_low[z, y] = value
            if end[r] == nx:
                x_high[z, y] = value
            if not on_face:  # only the x faces cut through inner rows
                continue
            for x in range(begin[r], end[r]):
                if z == 0:
                    z_low[y, x] = value
                if z == nz - 1:
                    z_high[y, x] = value
                if y == 0:
                    y_low[z, x] = value
                if y == ny - 1:
                    y_high[z, x] = value
    return z_low, z_high, y_low, y_high, x_low, x_high


@numba.njit(cache=True, nogil=True)
def _run_counts(shape, row_start, begin, end, labels, n, masks):  # pragma: no cover - compiled
    """Voxels of each component (row 0) and of each mask within it (rows 1..), column 0 the
    voxels outside every component."""
    counts = np.zeros((1 + masks.shape[0], n + 1), np.int64)
    ny = shape[1]
    for row in range(row_start.shape[0] - 1):
        z, y = row // ny, row % ny
        for r in range(row_start[row], row_start[row + 1]):
            label = labels[r]
            counts[0, label] += end[r] - begin[r]
            for m in range(masks.shape[0]):
                inside = 0
                for x in range(begin[r], end[r]):
                    inside += masks[m, z, y, x]
                counts[1 + m, label] += inside
    counts[0, 0] = shape[0] * shape[1] * shape[2] - counts[0, 1:].sum()
    for m in range(masks.shape[0]):
        counts[1 + m, 0] = masks[m].sum() - counts[1 + m, 1:].sum()
    return counts


def run_counts(shape, runs, n: int, masks=()) -> np.ndarray:
    """Voxels of each component of a block's runs, in all and within each mask.

    Parameters
    ----------
    shape : (3,) ints
        The block's shape.
    runs : tuple
        From :func:`label_runs` (or :func:`compact_runs`).
    n : int
        Number of components.
    masks : sequence of (Z, Y, X) bool arrays
        The block's shape.

    Returns
    -------
    (1 + len(masks), n + 1) ndarray of int64
        Row 0 counts every voxel, row k those in ``masks[k - 1]``; column 0 the
        voxels outside every component.

    Examples
    --------
    >>> mask = np.zeros((2, 3, 4), bool)
    >>> mask[0, 0, :2] = mask[1, 1, 2] = True
    >>> runs, n = label_runs(mask, connectivity=6)
    >>> run_counts(mask.shape, runs, n, [np.ones(mask.shape, bool)]).tolist()
    [[21, 2, 1], [21, 2, 1]]
    """
    stacked = (np.stack([np.asarray(m, np.uint8) for m in masks]) if len(masks)
               else np.zeros((0,) + tuple(shape), np.uint8))
    row_start, begin, end, labels = runs
    return _run_counts(tuple(int(s) for s in shape), row_start, begin, end, labels, int(n), stacked)


def label_runs(mask: np.ndarray, connectivity: int = 26):
    """Connected components of a 3D boolean block, numbered in raster order.

    The same partition and numbering as :func:`scipy.ndimage.label` with
    the given connectivity (and as connected-components-3d).

    Parameters
    ----------
    mask : (Z, Y, X) array of bool
    connectivity : {6, 18, 26}

    Returns
    -------
    runs : tuple
        ``(row_start, begin, end, labels)``, for :func:`paint_runs`,
        :func:`face_labels` and :func:`first_voxels`.
    n : int
        Number of components.

    Examples
    --------
    >>> mask = np.zeros((2, 3, 4), bool)
    >>> mask[0, 0, :2] = mask[1, 1, 2] = mask[1, 2, 3] = True
    >>> runs, n = label_runs(mask, connectivity=6)
    >>> n, paint_runs(mask.shape, runs)[1].tolist()
    (3, [[0, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3]])
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    rows = np.array(_ROWS[connectivity], np.int64)
    row_start, begin, end, labels, n = _label_runs(mask, rows)
    return (row_start, begin, end, labels), int(n)


def paint_runs(shape, runs, table=None) -> np.ndarray:
    """The labelled block; with ``table``, each label k written as ``table[k]`` instead."""
    row_start, begin, end, labels = runs
    if table is None:
        table = np.arange(int(labels.max(initial=0)) + 1, dtype=np.uint32)
    return _paint_runs(tuple(shape), row_start, begin, end, labels, np.asarray(table, np.uint32))


def face_labels(shape, runs):
    """``[(first, last) face along z, along y, along x]`` of the labelled block."""
    row_start, begin, end, labels = runs
    faces = _faces(tuple(shape), row_start, begin, end, labels)
    return [faces[0:2], faces[2:4], faces[4:6]]


def first_voxels(shape, runs, n: int) -> np.ndarray:
    """Flat index within the block of the first voxel of components 1..n."""
    row_start, begin, _, labels = runs
    return _first_runs(row_start, begin, labels, int(n), int(shape[2]))


def compact_runs(shape, runs, max_bytes=None):
    """The runs in the narrowest integer types that hold them, to keep them in memory;
    None if they would take more than ``max_bytes`` (decided before copying).

    Halves them for 128³ blocks (0.52 → 0.26 bytes per voxel for a phase mask);
    :func:`paint_runs` takes either form.
    """
    row_start, begin, end, labels = runs
    limits = (len(begin), shape[2], shape[2], int(labels.max(initial=0)))
    dtypes = [_narrowest(limit, values.dtype) for values, limit in zip(runs, limits)]
    if max_bytes is not None and sum(v.size * d.itemsize for v, d in zip(runs, dtypes)) > max_bytes:
        return None
    return tuple(values.astype(dtype, copy=False) for values, dtype in zip(runs, dtypes))


def _narrowest(limit, dtype):
    for narrow in (np.uint16, np.uint32):
        if limit <= np.iinfo(narrow).max:
            return np.dtype(narrow)
    return np.dtype(dtype)
