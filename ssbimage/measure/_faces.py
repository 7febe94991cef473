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

from .._arrays import _counts_in_block, _summed, as_dask, compute_in_batches, task
from .._compiled import table_slot
from .._distance import clipped_signed_distance
from .._spacing import check_spacing
from .._smoothing import gaussian_weights, smoothed
from ._envelopes import _smoothed_indicator
from ._surfaces import FIXED_POINT, _batch_within, _haloed_blocks, _sigmas, gap_voxels

__all__ = ["interface_and_envelope_areas", "interface_areas"]

DISTANCE_CLIP = 8.0  # voxels of the coarsest axis
PAIR_KEY = 1 << 31  # a pair of labels (below 2³¹) as one key


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
def _field_weight(field, a, b, c, a2, b2, c2, axis, spacing):  # pragma: no cover - compiled
    """|n_axis| / |n| of the mean central-difference gradient (``np.gradient``, float64) of
    ``field`` at voxels (a, b, c) and (a2, b2, c2); 1 where it vanishes."""
    n0 = 0.5 * ((np.float64(field[a + 1, b, c]) - np.float64(field[a - 1, b, c])) / (2 * spacing[0])
                + (np.float64(field[a2 + 1, b2, c2]) - np.float64(field[a2 - 1, b2, c2])) / (2 * spacing[0]))
    n1 = 0.5 * ((np.float64(field[a, b + 1, c]) - np.float64(field[a, b - 1, c])) / (2 * spacing[1])
                + (np.float64(field[a2, b2 + 1, c2]) - np.float64(field[a2, b2 - 1, c2])) / (2 * spacing[1]))
    n2 = 0.5 * ((np.float64(field[a, b, c + 1]) - np.float64(field[a, b, c - 1])) / (2 * spacing[2])
                + (np.float64(field[a2, b2, c2 + 1]) - np.float64(field[a2, b2, c2 - 1])) / (2 * spacing[2]))
    length = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    along = n0 if axis == 0 else (n1 if axis == 1 else n2)
    return abs(along) / length if length > 0 else 1.0


@numba.njit(cache=True, nogil=True)
def _label_weight(labels, z, y, x, axis, first, second, whole, half, spacing):  # pragma: no cover - compiled
    """|n_axis| / |n| of the face between voxel (z, y, x) and the next along ``axis``, n the
    gradient at the face's centre of the indicator of label ``first`` less that of ``second``,
    smoothed with a Gaussian (taps of :func:`_gradient_taps`): computed at this face only."""
    radius = (whole.shape[2] - 1) // 2
    along_z = half if axis == 0 else whole
    along_y = half if axis == 1 else whole
    along_x = half if axis == 2 else whole
    g0 = g1 = g2 = 0.0
    for i in range(-radius, radius + 2 if axis == 0 else radius + 1):
        vz, sz = along_z[0, 0, i + radius], along_z[1, 0, i + radius]
        for j in range(-radius, radius + 2 if axis == 1 else radius + 1):
            vy, sy = along_y[0, 1, j + radius], along_y[1, 1, j + radius]
            for k in range(-radius, radius + 2 if axis == 2 else radius + 1):
                label = labels[z + i, y + j, x + k]
                if label == first:
                    sign = 1.0
                elif label == second:
                    sign = -1.0
                else:
                    continue
                vx, sx = along_x[0, 2, k + radius], along_x[1, 2, k + radius]
                g0 += sign * sz * vy * vx
                g1 += sign * vz * sy * vx
                g2 += sign * vz * vy * sx
    g0, g1, g2 = g0 / spacing[0], g1 / spacing[1], g2 / spacing[2]
    length = np.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
    along = g0 if axis == 0 else (g1 if axis == 1 else g2)
    return abs(along) / length if length > 0 else 1.0


def _gradient_taps(sigmas):
    """Gaussian values and slopes per axis for :func:`_label_weight`: ``whole[0 or 1, axis, j + R]``
    for the neighbour j voxels away across a face's plane (offset r = −j from its centre), and
    ``half[…, j + R]`` for j = −R..R + 1 along the face's axis (r = ½ − j); the slope is the
    value's derivative −r / σ² · value. R is scipy's radius for the widest σ; each axis's taps
    are zero beyond its own."""
    radii = [int(4.0 * s + 0.5) for s in sigmas]
    widest = max(radii)
    whole = np.zeros((2, 3, 2 * widest + 1))
    half = np.zeros((2, 3, 2 * widest + 2))
    for axis, (sigma, radius) in enumerate(zip(sigmas, radii)):
        for table, offsets, reach in ((whole, -np.arange(-widest, widest + 1.0), radius),
                                      (half, 0.5 - np.arange(-widest, widest + 2.0), radius + 0.5)):
            value = np.where(np.abs(offsets) <= reach, np.exp(-0.5 * offsets ** 2 / sigma ** 2), 0.0)
            table[0, axis] = value
            table[1, axis] = -offsets / sigma ** 2 * value
    return whole, half


@numba.njit(cache=True, nogil=True)
def _row(table, key, count):  # pragma: no cover - compiled
    """The row of ``key`` in ``table`` (open addressing: keys, -1 if empty, and rows;
    :func:`~ssbimage._compiled.table_slot`); if absent it is inserted as row ``count``
    (numba's typed Dict, in its place, was slower)."""
    slot = table_slot(table[0], key)
    if table[0, slot] == -1:
        table[0, slot], table[1, slot] = key, count
    return table[1, slot]


@numba.njit(cache=True, nogil=True)
def _doubled(table, columns, count):  # pragma: no cover - compiled
    """``table`` and ``columns`` (rows of sums, zero beyond ``count``) with twice the room."""
    bigger = np.full((2, 2 * table.shape[1]), -1, np.int64)
    for slot in range(table.shape[1]):
        if table[0, slot] != -1:
            _row(bigger, table[0, slot], table[1, slot])
    more = np.zeros((columns.shape[0], 2 * columns.shape[1]), np.int64)
    more[:, :count] = columns[:, :count]
    return bigger, more


@numba.njit(cache=True, nogil=True)
def _keyed(table, sums, count):  # pragma: no cover - compiled
    """Rows (key, sums…) of the first ``count`` rows of ``sums`` in their order, keys from ``table``."""
    out = np.empty((count, 1 + sums.shape[0]), np.int64)
    for slot in range(table.shape[1]):
        row = table[1, slot]
        if table[0, slot] != -1:
            out[row, 0] = table[0, slot]
            out[row, 1:] = sums[:, row]
    return out


@numba.njit(cache=True, nogil=True)
def _with_room(table, sums, count, more):  # pragma: no cover - compiled
    """``table`` and ``sums`` doubled until ``more`` keys can join the ``count`` there at a load under ½."""
    while 2 * (count + more) >= table.shape[1]:
        table, sums = _doubled(table, sums, count)
    return table, sums


@numba.njit(cache=True, nogil=True)
def _face_sums(mask, phases, labels, wide, narrow, origin, thin, lo, hi, spacing,  # pragma: no cover - compiled
               fixed_point, envelopes, whole, half):
    """Rows (owner label · 256 + facing phase, area in 1 / ``fixed_point`` µm²), one per owner and
    facing phase, of the faces between each voxel v and v + 1 along each axis (v from ``lo`` to
    ``hi[axis]``) that separate the phase from the rest; each face's area is rounded on its own.
    With ``envelopes``, also rows (label, area) of the faces between a label and an unlabelled
    voxel, and (first · PAIR_KEY + second label, faces along z, y and x, + where the first is
    below) of the faces between two labels.

    A phase face's normal is the mean of the central-difference gradients of
    ``wide`` at its two voxels, or of ``narrow`` if either voxel is on a thin
    gap (``thin``, ``wide`` and ``narrow`` start at ``origin``); it stands
    for |n_axis| / |n| of its area (a plain face if the normal vanishes). A
    label face that is also a phase face with the unlabelled side outside the
    phase (a particle against electrolyte or void) has the same normal;
    others (two touching particles, a crack's mouth) take theirs from the two
    labels' indicators (:func:`_label_weight`). The sums are kept per key in
    the compiled loop: sorting one row per run of faces afterwards took a
    fifth of a block's time (docs/performance.md, item 42).
    """
    # per table: the keys' rows (_row) and the sums of each row; keys owner · 256 + facing,
    # label, and first · PAIR_KEY + second with the pair's faces along z, y, x
    slots, rows, count = np.full((2, 512), -1, np.int64), np.zeros((1, 256), np.int64), 0
    label_slots, label_rows, label_count = np.full((2, 512), -1, np.int64), np.zeros((1, 256), np.int64), 0
    pair_slots, pair_rows, pair_count = np.full((2, 512), -1, np.int64), np.zeros((3, 256), np.int64), 0
    face_areas = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]])
    x0, x1 = lo[2], max(hi[0, 2], hi[1, 2], hi[2, 2])
    listed = np.empty(max(x1 - x0, 0), np.int64)
    for z in range(lo[0], max(hi[0, 0], hi[1, 0], hi[2, 0])):
        for y in range(lo[1], max(hi[0, 1], hi[1, 1], hi[2, 1])):
            # room for every face of the row, so that no table is replaced while a row
            # is scanned: an array reassigned in that loop kept numba from holding it
            # in registers (three 128³ blocks of the 512³ bench maps, alternating runs:
            # 0.089-0.150 s each, now 0.054-0.089 s)
            slots, rows = _with_room(slots, rows, count, 3 * (x1 - x0))
            label_slots, label_rows = _with_room(label_slots, label_rows, label_count, 3 * (x1 - x0))
            pair_slots, pair_rows = _with_room(pair_slots, pair_rows, pair_count, 3 * (x1 - x0))
            count, label_count, pair_count = _row_faces(
                z, y, x0, x1, mask, phases, labels, wide, narrow, origin, thin, hi, spacing, fixed_point, envelopes,
                whole, half, face_areas, slots, rows, count, label_slots, label_rows, label_count,
                pair_slots, pair_rows, pair_count, listed)
    return (_keyed(slots, rows, count), _keyed(label_slots, label_rows, label_count),
            _keyed(pair_slots, pair_rows, pair_count))


@numba.njit(cache=True, nogil=True)
def _row_faces(z, y, x0, x1, mask, phases, labels, wide, narrow, origin, thin, hi, spacing,  # pragma: no cover
               fixed_point, envelopes, whole, half, face_areas, slots, rows, count, label_slots, label_rows,
               label_count, pair_slots, pair_rows, pair_count, listed):
    """:func:`_face_sums` of the voxels (z, y, x0 … x1 − 1), in tables with room for all their
    faces; the tables' new counts. ``listed``: scratch of x1 − x0 entries."""
    # runs of faces share their key: the last one's row is kept for each table
    last_key, slot = np.int64(-1), np.int64(-1)
    last_label, label_row, last_pair, pair_row = np.int64(-1), np.int64(-1), np.int64(-1), np.int64(-1)
    # most voxels have no face: a first, branch-free pass (which the compiler
    # vectorises) lists those with one towards a next neighbour, and only they
    # are looked at; a next neighbour beyond ``hi`` is compared with the voxel itself
    zn = z + 1 if z < hi[0, 0] and y < hi[0, 1] else z
    yn = y + 1 if z < hi[1, 0] and y < hi[1, 1] else y
    xe = min(x1, hi[2, 2]) if z < hi[2, 0] and y < hi[2, 1] else x0
    found = 0
    for x in range(x0, x1):
        m, label = mask[z, y, x], labels[z, y, x]
        xn = x + 1 if x < xe else x
        face = ((m != mask[zn, y, x]) | (m != mask[z, yn, x]) | (m != mask[z, y, xn])
                | (label != labels[zn, y, x]) | (label != labels[z, yn, x]) | (label != labels[z, y, xn]))
        listed[found] = x
        found += face
    # one sweep for the three axes: each voxel's mask and label are read once, the
    # neighbours from the cache (three sweeps read the label block three times)
    for n in range(found):
        x = listed[n]
        inner_is_lower = mask[z, y, x]
        lower = np.int64(labels[z, y, x])
        for axis in range(3):
            if z >= hi[axis, 0] or y >= hi[axis, 1] or x >= hi[axis, 2]:
                continue
            dz, dy, dx = int(axis == 0), int(axis == 1), int(axis == 2)
            phase_face = inner_is_lower != mask[z + dz, y + dy, x + dx]
            upper = np.int64(labels[z + dz, y + dy, x + dx])
            label_face = envelopes and lower != upper
            if not (phase_face or label_face):
                continue
            face_area = face_areas[axis]
            weight = 1.0
            if phase_face:
                a, b, c = z - origin[0], y - origin[1], x - origin[2]
                a2, b2, c2 = a + dz, b + dy, c + dx
                # two calls, not one on a chosen array: choosing took a third of the loop's time
                if thin[a, b, c] or thin[a2, b2, c2]:
                    weight = _field_weight(narrow, a, b, c, a2, b2, c2, axis, spacing)
                else:
                    weight = _field_weight(wide, a, b, c, a2, b2, c2, axis, spacing)
                if inner_is_lower:
                    facing, owner = np.int64(phases[z + dz, y + dy, x + dx]), lower
                else:
                    facing, owner = np.int64(phases[z, y, x]), upper
                # phase codes are uint8: one key per (owner, facing)
                key = owner * 256 + facing
                if key != last_key:
                    last_key, slot = key, _row(slots, key, count)
                    count += slot == count
                rows[0, slot] += np.int64(np.rint(weight * face_area * fixed_point))
            if label_face and lower != 0 and upper != 0:
                # two labels: the face's orientation, counted per pair
                first, second = min(lower, upper), max(lower, upper)
                if second >= PAIR_KEY:
                    raise ValueError("envelopes need labels below 2**31")
                if first * PAIR_KEY + second != last_pair:
                    last_pair = first * PAIR_KEY + second
                    pair_row = _row(pair_slots, last_pair, pair_count)
                    pair_count += pair_row == pair_count
                pair_rows[axis, pair_row] += 1 if lower == first else -1
            elif label_face:
                outside = upper if inner_is_lower else lower
                if not (phase_face and outside == 0):
                    weight = _label_weight(labels, z, y, x, axis, lower, upper, whole, half, spacing)
                label = lower if lower != 0 else upper
                if label != last_label:
                    last_label, label_row = label, _row(label_slots, label, label_count)
                    label_count += label_row == label_count
                label_rows[0, label_row] += np.int64(np.rint(weight * face_area * fixed_point))
    return count, label_count, pair_count


def _block_faces(phases, labels, halo, core, at_start, at_end, phase, spacing, smoothing, thin_smoothing,
                 envelopes=False, counted=None):
    """Rows (label, facing phase, area in 2⁻³² µm²) of the faces whose lower voxel is in this block;
    with ``envelopes``, also the rows of :func:`_face_sums`' labels' faces and contacts and, with
    ``counted`` (a phase code), the block's voxels per phase and per label, in all and in that
    phase, and the labels on the volume's faces."""
    mask = phases == phase
    uniform = not mask.any() or mask.all()
    if uniform and not envelopes:
        return np.empty((0, 3), np.int64)
    # the smoothed fields are differentiated at the faces' voxels only: the
    # core and one voxel around it for the central differences
    near_core = tuple(slice(h - 1, h + n + 2) for h, n in zip(halo, core))
    origin = np.array([r.start for r in near_core], np.int64)
    if uniform:  # no phase face reads them
        wide = narrow = np.zeros((3, 3, 3), np.float32)
        thin = np.zeros((3, 3, 3), bool)
    else:
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
    faces, envelope, pairs = _face_sums(mask, phases, labels, wide, narrow, origin, thin, lo, hi,
                                        np.asarray(spacing, np.float64), FIXED_POINT, envelopes,
                                        *_gradient_taps(_sigmas(thin_smoothing, spacing)))
    faces = np.column_stack([faces[:, 0] // 256, faces[:, 0] % 256, faces[:, 1]])
    pairs = np.column_stack([pairs[:, 0] // PAIR_KEY, pairs[:, 0] % PAIR_KEY, pairs[:, 1:]])
    if not envelopes:
        return faces
    if counted is None:
        return faces, envelope, pairs
    # the core's voxels, counted here rather than in passes of their own over both images
    inside = tuple(slice(h, h + n) for h, n in zip(halo, core))
    phases, labels = phases[inside], labels[inside]
    outer = [labels[(slice(None),) * axis + (end,)] for axis in range(3)
             for end, there in ((0, at_start[axis]), (-1, at_end[axis])) if there]
    return (faces, envelope, pairs, np.bincount(phases.reshape(-1), minlength=256),
            _counts_in_block(labels, phases == counted, n_labels=np.iinfo(np.int64).max),
            np.unique(np.concatenate([np.unique(face) for face in outer])) if outer else np.empty(0, labels.dtype))


def _face_parts(phases, labels, spacing, phase, smoothing, thin_smoothing, envelopes, counted=None):
    """The delayed rows of every block (:func:`_block_faces`) and the blocks per batch."""
    arrays = [phases] if labels is None else [phases, as_dask(labels).rechunk(phases.chunks)]
    sigmas = _sigmas(smoothing, spacing)
    clip = DISTANCE_CLIP * spacing.max() / spacing
    halo = tuple(math.ceil(4 * s + c) + 3 for s, c in zip(sigmas, clip))
    parts = [task(_block_faces, blocks[0], blocks[1] if labels is not None else None, halo,
                  core, at_start, at_end, phase, spacing, smoothing, thin_smoothing, envelopes, counted)
             for blocks, core, at_start, at_end in _haloed_blocks(arrays, halo)]
    return parts, _batch_within(arrays)


def _areas_table(rows, columns):
    """Fixed-point rows summed per key (all columns but the last) into µm²."""
    table = pd.DataFrame(rows, columns=columns).groupby(columns[:-1], as_index=False)[columns[-1]].sum()
    return table.assign(**{columns[-1]: table[columns[-1]] / FIXED_POINT})


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
    parts, batch = _face_parts(phases, labels, spacing, phase, smoothing, thin_smoothing, False)
    rows = np.concatenate(compute_in_batches(parts, batch)) if parts else np.empty((0, 3), np.int64)
    return _areas_table(rows, ["label", "facing", "area_um2"])


def interface_and_envelope_areas(phases, labels, *, spacing=None, phase: int = 2, smoothing: float = 2.0,
                                 thin_smoothing: float = 0.8):
    """:func:`interface_areas` and each label's whole surface (its envelope) in one pass.

    An envelope is the set of faces between a label's voxels and any other
    label's (0 included), each weighted by |n_axis| of its normal, as the
    interfaces' faces are. A face where the label's boundary is the phase's,
    the other side unlabelled, is the interface's face with the same weight.
    Two touching labels share their contact's vector area |Σ ± face|, exact
    for a flat contact however jagged its voxels (normals from the labels
    followed the jags of a split and read it up to 28 % large). A face
    between a labelled voxel outside the phase (a crack inside its particle)
    and an unlabelled one takes its normal from the gradient of the two
    labels' indicators smoothed with ``thin_smoothing``, computed at that
    face only. It measures what :func:`~ssbimage.measure.label_surface_areas`
    does (marching cubes per label) at a fraction of the cost, and as closely
    on analytic shapes (docs/metrics.md). Labels must be below 2³¹.
    Surfaces stop at the volume's faces, as there.

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array or Volume
    labels : (Z, Y, X) integer array
    spacing, phase, smoothing, thin_smoothing
        As :func:`interface_areas`.

    Returns
    -------
    interfaces : pandas.DataFrame
        ``label, facing, area_um2``, as :func:`interface_areas` with ``labels``.
    envelopes : pandas.DataFrame
        ``label, surface_area_um2`` for every label with a face.

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.ones((20, 20, 20), np.uint8); phases[5:15] = 2   # a 5 µm layer of active material
    >>> labels = (phases == 2).astype(np.uint8); labels[:, :, 10:] *= 2   # cut in two particles
    >>> faces, envelopes = interface_and_envelope_areas(phases, labels, spacing=0.5)
    >>> envelopes.surface_area_um2.tolist()   # 50 µm² above, 50 below, the 50 µm² cut counted for both
    [150.0, 150.0]
    """
    faces, envelopes, *_ = _areas_and_counts(phases, labels, spacing=spacing, phase=phase, smoothing=smoothing,
                                               thin_smoothing=thin_smoothing)
    return faces, envelopes


def _areas_and_counts(phases, labels, *, spacing=None, phase=2, smoothing=2.0, thin_smoothing=0.8, counted=None):
    """:func:`interface_and_envelope_areas`' two tables and, with ``counted`` (a phase code),
    the voxels per phase code (256), per label 0..max in all and in that phase (2, max + 1),
    and the labels on the volume's faces (0 included if there)."""
    spacing = np.asarray(check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3))
    phases = as_dask(phases)
    parts, batch = _face_parts(phases, labels, spacing, phase, smoothing, thin_smoothing, True, counted)
    results = compute_in_batches(parts, batch) if parts else []
    faces, envelopes, pairs = (np.concatenate([r[i] for r in results] + [np.empty((0, n), np.int64)])
                               for i, n in enumerate((3, 2, 5)))
    envelopes = _areas_table(envelopes, ["label", "surface_area_um2"])
    pairs = pd.DataFrame(pairs, columns=["first", "second", "z", "y", "x"]).groupby(["first", "second"]).sum()
    face_areas = [spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]]
    contact = np.sqrt(sum((pairs[axis] * area) ** 2 for axis, area in zip("zyx", face_areas)))
    contacts = pd.concat([contact.droplevel(1), contact.droplevel(0)])
    envelopes = pd.concat([envelopes.set_index("label").surface_area_um2, contacts]).groupby(level=0).sum()
    tables = (_areas_table(faces, ["label", "facing", "area_um2"]),
              envelopes.rename_axis("label").rename("surface_area_um2").reset_index())
    if counted is None:
        return tables + (None, None, None)
    label_parts = [r[4] for r in results]
    highest = max((int(present[-1]) for part in label_parts for present, _ in part if present.size), default=0)
    return tables + (sum(r[3] for r in results) if results else np.zeros(256, np.int64),
                     np.stack([_summed([p[k] for p in label_parts], highest) for k in range(2)]),
                     np.unique(np.concatenate([r[5].astype(np.int64) for r in results] + [np.empty(0, np.int64)])))
