"""Whole surfaces of instances (envelopes) by marching cubes.

:func:`label_surface_areas` meshes the 0.5 level set of each instance's
indicator smoothed with σ = 0.8 voxel (marching cubes with Lorensen & Cline's
table, compiled), inside the instance's box in each block, and divides each
cell's area by the smoothing's mean-curvature shrinkage
(:func:`~ssbimage.measure.curvature_factors`): a sphere of r = 10 voxels
within 1 %, of r = 5 within 0.5 %. The particle table takes its envelopes
from :func:`ssbimage.measure.interface_and_envelope_areas` instead, which
measures them with the interfaces in one pass (voxel faces with estimated
normals) at a fraction of this cost; this module remains the independent
check (tests/test_measure_envelope_faces.py).

Chunking: every block is read with a halo and meshes the marching-cubes
cells whose lowest corner lies in it (one voxel beyond its upper faces, none
beyond the volume's): every cell is counted in exactly one block. Vertices
are interpolated in float64 relative to their cell and areas summed as
integers of 2⁻³² µm².
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from .._arrays import _is_distributed, as_dask, compute_in_batches, kernel_threads, task
from .._spacing import check_spacing
from .._smoothing import gaussian_weights, smoothed
from ._surfaces import (_CASES, _CORNERS, _EDGES, FIXED_POINT, _area_factors, _derivatives_at, _grouped, _halo,
                        _haloed_blocks, _march, _owned_cells, _sigmas)

__all__ = ["label_surface_areas"]

# envelopes are meshed per label and block: in blocks of 256³ rather than 128³
# fewer particles are cut by a block face and smoothed twice (512³, same
# session: 17.1–17.5 s in 128³ blocks, 13.4–15.0 s in 256³, identical areas)
ENVELOPE_BLOCK = 256
# cells around a label's box that can hold its surface: a voxel outside the
# box along an axis smooths to at most the kernel's one-sided tail, (1 − w₀) / 2
# < 0.5, so every cell the 0.5 level crosses has a corner inside the box
INNER_PAD = 1


@numba.njit(cache=True, nogil=True)
def _smoothed_indicator(labels, k, lo, hi, region_lo, region_hi,  # pragma: no cover - compiled
                        weights_z, weights_y, weights_x):
    """The indicator of ``labels == k`` on the box [lo, hi) smoothed on the region (block
    coordinates, inside the box) by :func:`ssbimage._smoothing.smoothed`, in float32: the values of scipy's
    ``gaussian_filter`` of the box's float32 indicator, without the indicator's array
    beyond the smoothing's reach."""
    z0, z1 = max(region_lo[0] - weights_z.size // 2, lo[0]), min(region_hi[0] + weights_z.size // 2, hi[0])
    y0, y1 = max(region_lo[1] - weights_y.size // 2, lo[1]), min(region_hi[1] + weights_y.size // 2, hi[1])
    x0, x1 = max(region_lo[2] - weights_x.size // 2, lo[2]), min(region_hi[2] + weights_x.size // 2, hi[2])
    indicator = np.empty((z1 - z0, y1 - y0, x1 - x0), np.float32)
    for z in range(z0, z1):
        for y in range(y0, y1):
            row = labels[z, y, x0:x1]
            for x in range(x1 - x0):
                indicator[z - z0, y - y0, x] = 1.0 if row[x] == k else 0.0
    box_lo = (z0, y0, x0)
    return smoothed(indicator, (region_lo[0] - box_lo[0], region_lo[1] - box_lo[1], region_lo[2] - box_lo[2]),
                    (region_hi[0] - region_lo[0], region_hi[1] - region_lo[1], region_hi[2] - region_lo[2]),
                    weights_z, weights_y, weights_x)


@numba.njit(cache=True, nogil=True)
def _label_boxes(labels):  # pragma: no cover - compiled
    """The lowest label of a block and the bounding boxes (start, stop per axis; start −1 where
    absent) of the labels from it to the block's highest.

    Rows start at the block's lowest label, not at 1 as scipy's
    ``find_objects``: a block of a 2048³ volume holds labels near 10⁶, and
    rows for every lower label made each block's work and result scale with
    the volume (docs/performance.md, item 41).
    """
    first, last = np.iinfo(np.int64).max, 0
    for z in range(labels.shape[0]):
        for y in range(labels.shape[1]):
            for x in range(labels.shape[2]):
                value = np.int64(labels[z, y, x])
                if value:
                    first, last = min(first, value), max(last, value)
    if last == 0:
        return np.int64(1), np.full((0, 6), -1, np.int64)
    boxes = np.full((last - first + 1, 6), -1, np.int64)
    for z in range(labels.shape[0]):
        for y in range(labels.shape[1]):
            for x in range(labels.shape[2]):
                value = np.int64(labels[z, y, x])
                if not value:
                    continue
                box = boxes[value - first]
                if box[0] < 0:
                    box[0], box[1], box[2], box[3], box[4], box[5] = z, z + 1, y, y + 1, x, x + 1
                else:
                    box[1] = max(box[1], z + 1)
                    box[2], box[3] = min(box[2], y), max(box[3], y + 1)
                    box[4], box[5] = min(box[4], x), max(box[5], x + 1)
    return first, boxes


@numba.njit(cache=True, nogil=True)
def _envelope_rows(labels, first, boxes, owned_lo, owned_hi, inner_pad, pad, weights_z, weights_y, weights_x,
                   cases, corners, edges, spacing, sigma_um, curvature):  # pragma: no cover - compiled
    """Rows (label, area in 2⁻³² µm²) of :func:`_block_label_areas`; ``boxes`` holds the bounding
    box of each label from ``first`` on (:func:`_label_boxes`)."""
    rows = np.empty((boxes.shape[0], 2), np.int64)
    count = 0
    lo, hi = np.empty(3, np.int64), np.empty(3, np.int64)
    wide_lo, wide_hi = np.empty(3, np.int64), np.empty(3, np.int64)
    needed_lo, needed_hi = np.empty(3, np.int64), np.empty(3, np.int64)
    for index in range(boxes.shape[0]):
        if boxes[index, 0] < 0:
            continue
        empty = False
        for a in range(3):
            # the cells to mesh: the box and ``inner_pad`` voxels (INNER_PAD),
            # cut to owned cells; the field around them is smoothed
            # from the labels up to the smoothing reach and the derivatives'
            # stencil beyond
            lo[a] = max(boxes[index, 2 * a] - inner_pad, owned_lo[a])
            hi[a] = min(boxes[index, 2 * a + 1] + inner_pad, owned_hi[a])
            empty = empty or lo[a] >= hi[a]
            wide_lo[a], wide_hi[a] = max(lo[a] - pad[a], 0), min(hi[a] + pad[a], labels.shape[a])
            needed_lo[a], needed_hi[a] = max(lo[a] - 3, wide_lo[a]), min(hi[a] + 3, wide_hi[a])
        if empty:
            continue
        # float64: the derivatives below are taken in it
        field = _smoothed_indicator(labels, first + index, wide_lo, wide_hi, needed_lo, needed_hi,
                                    weights_z, weights_y, weights_x).astype(np.float64)
        offset = lo - needed_lo
        inner = field[offset[0]:offset[0] + hi[0] - lo[0], offset[1]:offset[1] + hi[1] - lo[1],
                      offset[2]:offset[2] + hi[2] - lo[2]]
        centroids, areas = _march(inner, 0.5, cases, corners, edges, spacing)
        if areas.size == 0:
            continue
        if curvature:
            for a in range(3):
                centroids[:, a] += offset[a]
            gradient, hessian = _derivatives_at(field, centroids, spacing)
            areas = areas * _area_factors(gradient, hessian, sigma_um)
        rows[count, 0] = first + index
        rows[count, 1] = np.rint(areas * FIXED_POINT).astype(np.int64).sum()
        count += 1
    return rows[:count]


def _block_label_areas(labels, origin_in_block, core, at_end, sigmas, spacing, curvature):
    """Rows (label, area in 2⁻³² µm²) of the labels' envelopes meshed in this block's owned cells.

    One compiled pass per label: its indicator, smoothed in three cropped
    passes (:func:`ssbimage._smoothing.smoothed`), meshed and curvature-corrected
    without leaving the compiled code (NumPy's temporaries and scipy's calls
    per label were half the time: docs/performance.md, item 31).
    """
    owned = _owned_cells(origin_in_block, core, at_end)
    pad = tuple(math.ceil(4 * s) + 3 for s in sigmas)
    first, boxes = _label_boxes(labels)
    weights = [gaussian_weights(float(s)) for s in sigmas]
    # a copy that owns its rows: the compiled slice is a view that would keep
    # the block's whole buffer alive as long as the batch's results
    return _envelope_rows(labels, first, boxes, np.array([o.start for o in owned], np.int64),
                          np.array([o.stop for o in owned], np.int64), INNER_PAD, np.array(pad, np.int64), *weights,
                          _CASES, _CORNERS, _EDGES, np.asarray(spacing, np.float64), float(sigmas[0] * spacing[0]),
                          bool(curvature)).copy()


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
    parts = [task(_block_label_areas, blocks[0], halo, core, at_end, sigmas, spacing, curvature_correction)
             for blocks, core, _, at_end in _haloed_blocks([labels], halo, least=_envelope_blocks(labels))]
    # nothing handed between batches: at 1024³ it took as long (54.9 against 53.9 s)
    # and the pieces held to the batch's end raised the peak from 1.83 to 2.37 GiB
    rows = np.concatenate(compute_in_batches(parts, carry_bytes=0)) if parts else np.empty((0, 2), np.int64)
    table = pd.DataFrame(rows, columns=["label", "surface_area_um2"])
    table = table.groupby("label", as_index=False)["surface_area_um2"].sum()
    return table.assign(surface_area_um2=table.surface_area_um2 / FIXED_POINT)
