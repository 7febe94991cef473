"""Interface areas as a surface integral over voxel faces with estimated normals.

The boundary of a phase in a voxel image is a set of voxel faces, each
between a voxel of the phase and one of another phase. Counting them
overestimates a curved or oblique surface (a sphere's by 50 %), because each
face is the surface's projection on an axis plane, not the surface. If the
surface's unit normal n is known at a face of axis a, the face stands for
|n_a| times its area; summed over the faces this is the surface integral of
the true surface (exact for a plane of any orientation: its staircase faces
tile its projections), and it converges for smooth surfaces as the normal
estimate does (Lachaud & Thibert 2016).

Normals come from the gradient of the phase's signed distance (clipped at
8 voxels) smoothed with σ = ``smoothing`` voxels: wide enough that a plane's
voxel terraces do not tilt it, and radial for a sphere of any radius. A face
on a gap one or two voxels wide (a crack, electrolyte in a crevice; see
:func:`gap_voxels`) takes its normal from the phase indicator smoothed with
``thin_smoothing`` instead, as a wide smoothing would turn it along the gap.

Each face is attributed exactly: it faces the phase of its other voxel and
belongs to the instance label of its own. Chunking: every block is read
with a halo (the distance clip, the smoothing reach and the gap test) and
sums the faces whose lower voxel lies in it: each face is counted once, and
areas are summed as integers of 2⁻³² µm², so any chunking gives the same
table.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
from numba import types
from numba.typed import Dict

from .._arrays import as_dask, compute_in_batches, task
from .._compiled import grown
from .._distance import clipped_signed_distance
from .._spacing import check_spacing
from .._smoothing import gaussian_weights, smoothed
from ._envelopes import _smoothed_indicator
from ._surfaces import FIXED_POINT, _batch_within, _haloed_blocks, _sigmas, gap_voxels

__all__ = ["interface_areas"]

DISTANCE_CLIP = 8.0  # voxels of the coarsest axis


def _smoothed_signed_distance(mask, spacing, sigmas, region):
    """The signed distance to the phase's boundary (µm, clipped at DISTANCE_CLIP voxels) smoothed
    with ``sigmas`` (compiled passes, float32), in the shape of ``region``; the distance is
    computed only where the smoothing reads it (the region and a kernel radius)."""
    weights = [gaussian_weights(s) for s in sigmas]
    box = tuple(slice(max(r.start - w.size // 2, 0), min(r.stop + w.size // 2, n))
                for r, w, n in zip(region, weights, mask.shape))
    distance = clipped_signed_distance(mask, spacing, float(DISTANCE_CLIP * spacing.max()), box)
    return smoothed(distance, tuple(r.start - b.start for r, b in zip(region, box)),
                    tuple(r.stop - r.start for r in region), *weights)


@numba.njit(cache=True, nogil=True)
def _face_sums(mask, phases, labels, wide, narrow, origin, thin, lo, hi, spacing,  # pragma: no cover - compiled
               fixed_point):
    """Rows (owner label, facing phase, area in 1 / ``fixed_point`` µm²), one per owner and facing
    phase, of the faces between each voxel v and v + 1 along each axis (v from ``lo`` to
    ``hi[axis]``) that separate the phase from the rest; each face's area is rounded on its own.

    A face's normal is the mean of the central-difference gradients (as
    ``np.gradient``, in float64) of ``wide`` at its two voxels, or of ``narrow`` if
    either voxel is on a thin gap (``thin``, ``wide`` and ``narrow`` start
    at ``origin``); it stands for |n_axis| / |n| of its area (a plain face
    if the normal vanishes). The sums are kept per (owner, facing) in the
    compiled loop: sorting one row per run of faces afterwards took a fifth of
    a block's time (docs/performance.md, item 42).
    """
    slots = Dict.empty(key_type=types.int64, value_type=types.int64)
    owners = np.empty(256, np.int64)
    facings = np.empty(256, np.int64)
    sums = np.empty(256, np.int64)
    count = 0
    last_key, slot = np.int64(-1), np.int64(-1)
    for axis in range(3):
        face_area = 1.0
        for a in range(3):
            if a != axis:
                face_area *= spacing[a]
        dz, dy, dx = int(axis == 0), int(axis == 1), int(axis == 2)
        for z in range(lo[0], hi[axis, 0]):
            for y in range(lo[1], hi[axis, 1]):
                for x in range(lo[2], hi[axis, 2]):
                    inner_is_lower = mask[z, y, x]
                    if inner_is_lower == mask[z + dz, y + dy, x + dx]:
                        continue
                    a, b, c = z - origin[0], y - origin[1], x - origin[2]
                    a2, b2, c2 = a + dz, b + dy, c + dx
                    field = narrow if (thin[a, b, c] or thin[a2, b2, c2]) else wide
                    n0 = 0.5 * ((np.float64(field[a + 1, b, c]) - np.float64(field[a - 1, b, c])) / (2 * spacing[0])
                                + (np.float64(field[a2 + 1, b2, c2]) - np.float64(field[a2 - 1, b2, c2]))
                                / (2 * spacing[0]))
                    n1 = 0.5 * ((np.float64(field[a, b + 1, c]) - np.float64(field[a, b - 1, c])) / (2 * spacing[1])
                                + (np.float64(field[a2, b2 + 1, c2]) - np.float64(field[a2, b2 - 1, c2]))
                                / (2 * spacing[1]))
                    n2 = 0.5 * ((np.float64(field[a, b, c + 1]) - np.float64(field[a, b, c - 1])) / (2 * spacing[2])
                                + (np.float64(field[a2, b2, c2 + 1]) - np.float64(field[a2, b2, c2 - 1]))
                                / (2 * spacing[2]))
                    length = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
                    along = n0 if axis == 0 else (n1 if axis == 1 else n2)
                    weight = abs(along) / length if length > 0 else 1.0
                    if inner_is_lower:
                        facing, owner = np.int64(phases[z + dz, y + dy, x + dx]), np.int64(labels[z, y, x])
                    else:
                        facing, owner = np.int64(phases[z, y, x]), np.int64(labels[z + dz, y + dy, x + dx])
                    # phase codes are uint8: one key per (owner, facing)
                    key = owner * 256 + facing
                    if key != last_key:
                        if key in slots:
                            slot = slots[key]
                        else:
                            slot = count
                            slots[key] = slot
                            if count == sums.size:
                                owners, facings, sums = (grown(owners, 2 * count), grown(facings, 2 * count),
                                                         grown(sums, 2 * count))
                            owners[count], facings[count], sums[count] = owner, facing, 0
                            count += 1
                        last_key = key
                    sums[slot] += np.int64(np.rint(weight * face_area * fixed_point))
    out = np.empty((count, 3), np.int64)
    for i in range(count):
        out[i, 0], out[i, 1], out[i, 2] = owners[i], facings[i], sums[i]
    return out


def _block_faces(phases, labels, halo, core, at_end, phase, spacing, smoothing, thin_smoothing):
    """Rows (label, facing phase, area in 2⁻³² µm²) of the faces whose lower voxel is in this block."""
    mask = phases == phase
    if not mask.any() or mask.all():
        return np.empty((0, 3), np.int64)
    # the smoothed fields are differentiated at the faces' voxels only: the
    # core and one voxel around it for the central differences
    near_core = tuple(slice(h - 1, h + n + 2) for h, n in zip(halo, core))
    origin = np.array([r.start for r in near_core], np.int64)
    wide = _smoothed_signed_distance(mask, spacing, _sigmas(smoothing, spacing), near_core)
    # compiled, on the region only, from the mask itself (no float copy of the block)
    narrow = _smoothed_indicator(mask.view(np.uint8), 1, np.zeros(3, np.int64), np.array(mask.shape, np.int64),
                                 origin, np.array([r.stop for r in near_core], np.int64),
                                 *[gaussian_weights(s) for s in _sigmas(thin_smoothing, spacing)])
    # the gap test reads two voxels beyond the fields' region
    around = tuple(slice(r.start - 2, r.stop + 2) for r in near_core)
    thin = gap_voxels(mask[around])[2:-2, 2:-2, 2:-2]
    if labels is None:
        labels = np.broadcast_to(np.zeros((), np.uint8), mask.shape)
    lo = np.array(halo, np.int64)
    # per axis, no pair beyond the volume's last voxel
    hi = np.array([[h + n - (1 if end and a == axis else 0) for a, (h, n, end) in enumerate(zip(halo, core, at_end))]
                   for axis in range(3)], np.int64)
    return _face_sums(mask, phases, labels, wide, narrow, origin, thin, lo, hi, np.asarray(spacing, np.float64),
                      FIXED_POINT)


def interface_areas(phases, *, spacing=None, phase: int = 2, labels=None, smoothing: float = 2.0,
                    thin_smoothing: float = 0.8) -> pd.DataFrame:
    """Area of one phase's surface, split by the phase it faces (and by instance label).

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array or Volume
        Phase map (DESIGN.md codes); NumPy or Dask, any chunking.
    spacing : float or (3,) floats, optional
        Voxel size in µm (default: a Volume's, else 1).
    phase : int
        The phase whose surface is measured (2 = active material).
    labels : (Z, Y, X) integer array, optional
        Instance labels (e.g. particles): each face is credited to the label
        of its voxel in ``phase``.
    smoothing : float
        σ in voxels (of the coarsest axis) of the signed distance whose
        gradient gives the normals.
    thin_smoothing : float
        σ of the indicator that gives the normals of faces on gaps one or
        two voxels wide.

    Returns
    -------
    pandas.DataFrame
        ``label, facing, area_um2``: one row per (label, facing phase), 0 as
        the label without ``labels``.

    Notes
    -----
    Halo: ``ceil(4 σ) + 8`` voxels (the distance clip) + 2 (the gap test).
    Accuracy on analytic shapes and the phantoms: docs/metrics.md.

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.ones((20, 20, 20), np.uint8); phases[10:] = 2   # a flat AM | SE interface
    >>> areas = interface_areas(phases, spacing=0.5)
    >>> areas[["facing", "area_um2"]].values.tolist()
    [[1.0, 100.0]]
    """
    spacing = np.asarray(check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3))
    phases = as_dask(phases)
    arrays = [phases] if labels is None else [phases, as_dask(labels).rechunk(phases.chunks)]
    sigmas = _sigmas(smoothing, spacing)
    clip = DISTANCE_CLIP * spacing.max() / spacing
    halo = tuple(math.ceil(4 * s + c) + 3 for s, c in zip(sigmas, clip))
    parts = [task(_block_faces, blocks[0], blocks[1] if labels is not None else None, halo,
                  core, at_end, phase, spacing, smoothing, thin_smoothing)
             for blocks, core, at_end in _haloed_blocks(arrays, halo)]
    rows = np.concatenate(compute_in_batches(parts, _batch_within(arrays))) if parts else np.empty((0, 3), np.int64)
    table = pd.DataFrame(rows, columns=["label", "facing", "area_um2"])
    table = table.groupby(["label", "facing"], as_index=False)["area_um2"].sum()
    return table.assign(area_um2=table.area_um2 / FIXED_POINT)
