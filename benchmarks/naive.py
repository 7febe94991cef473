"""The naive in-memory scikit-image/scipy pipeline: the baseline that ssbimage is compared against.

It is deliberately written the obvious way, as a battery scientist would
write it in a notebook: the whole volume in memory, NumPy's default float64
wherever the libraries give it, no chunking, no numba, no ``edt`` or
``cc3d``. It measures the same metrics as :func:`ssbimage.analyze` (names of
docs/metrics.md) so that the benchmark compares time, memory and values of
the same quantities. It is kept plain and correct, not fast.

Phase codes are those of DESIGN.md: 1 solid electrolyte (SE), 2 active
material (AM), 3 void. A grey-value threshold cannot tell a crack from a
void, so cracks are found afterwards as the voids inside the particles'
envelopes; the whole volume is sample (no "outside" phase).

What the obvious way gets wrong, measured on analytic shapes: marching
cubes on the binary mask overestimates a sphere's area by about 8 %
(r = 10 voxels); blurring before thresholding puts a one-voxel shell of
"SE" grey values between active material and void, which reads as contact;
and cracks narrower than about three voxels blur to SE grey values and are
missed.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage
from skimage.filters import gaussian
from skimage.measure import marching_cubes
from skimage.morphology import ball, h_maxima
from skimage.segmentation import watershed

__all__ = ["naive_analysis"]

SE, AM, VOID = 1, 2, 3
MIN_PARTICLE_VOXELS = 4.2  # a ball of radius one voxel (4/3 π ≈ 4.19 voxels): smaller labels are specks
FULL = np.ones((3, 3, 3), dtype=bool)  # 26-connectivity


def _phases(smoothed, thresholds):
    """Grey values to phase codes: below the first threshold void, then SE, then AM."""
    low, high = sorted(thresholds)
    classes = np.digitize(smoothed, [low, high])  # 0, 1, 2 from dark to bright
    return np.array([VOID, SE, AM], dtype=np.uint8)[classes]


def _particles(am, spacing, max_radius_um):
    """Distance-transform watershed of the active material; labels and number of particles."""
    distance = ndimage.distance_transform_edt(am, sampling=spacing)
    # clipped as ssbimage clips it, so both pipelines place markers on the same map
    distance = np.minimum(distance, max_radius_um)
    peaks = h_maxima(distance, spacing)  # maxima at least one voxel above their surroundings
    markers, _ = ndimage.label(peaks, structure=FULL)
    labels = watershed(-distance, markers, mask=am)
    sizes = np.bincount(labels.ravel())[1:]
    return labels, int(np.count_nonzero(sizes >= MIN_PARTICLE_VOXELS))


def _voids(void, am):
    """Void components (26-connected); how many, and how many touch active material."""
    labels, count = ndimage.label(void, structure=FULL)
    near_am = ndimage.binary_dilation(am, structure=FULL)
    interfacial = np.unique(labels[near_am & (labels > 0)])
    return labels, count, len(interfacial)


def _cracks(void, am):
    """Void voxels inside the particles' envelope (the AM mask closed with a ball of radius 2 voxels)."""
    # padded first: scipy's closing erodes from a background border, which
    # would open the envelope of every particle cut by the volume's faces
    pad = 2
    envelope = ndimage.binary_closing(np.pad(am, pad), structure=ball(pad))
    envelope = envelope[pad:-pad, pad:-pad, pad:-pad]
    crack = void & envelope & ~am
    _, count = ndimage.label(crack, structure=FULL)
    return crack, count


def _surface_areas(phases, am, crack, spacing):
    """Contact and active surface areas (µm²) from a marching-cubes mesh of the AM mask.

    Each triangle's outward normal is followed one voxel from its centroid:
    the phase found there is what the triangle faces. Triangles facing SE are
    contact; triangles facing a crack (inside a particle) are not active
    surface. The volume's faces are not surface: the mesh stays open there.
    """
    verts, faces, _, _ = marching_cubes(am.astype(float), level=0.5, spacing=(spacing,) * 3)
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    # skimage orders each triangle's vertices so that (c - a) × (b - a) points to lower values: out of the AM
    cross = np.cross(c - a, b - a)
    double_area = np.linalg.norm(cross, axis=1)
    areas = 0.5 * double_area
    normals = cross / np.maximum(double_area, 1e-300)[:, None]
    probe = (a + b + c) / 3 + normals * spacing
    index = np.rint(probe / spacing).astype(int)
    index = np.clip(index, 0, np.array(phases.shape) - 1)
    i, j, k = index.T
    facing_se = phases[i, j, k] == SE
    facing_crack = crack[i, j, k]
    contact_area = float(areas[facing_se].sum())
    active_surface_area = float(areas[~facing_crack].sum())
    return contact_area, active_surface_area


def naive_analysis(image: np.ndarray, spacing: float, thresholds: tuple[float, float], *,
                   max_radius_um: float = 15.0) -> tuple[dict, dict]:
    """Segment a cathode volume and measure it, the plain in-memory way.

    Parameters
    ----------
    image : (Z, Y, X) ndarray
        Grey-value XCT volume (any real dtype), wholly in memory.
    spacing : float
        Isotropic voxel size in µm.
    thresholds : (float, float)
        Grey levels between void and SE, and between SE and AM.
    max_radius_um : float
        The particles' distance map is clipped to this (µm), as ssbimage does.

    Returns
    -------
    metrics : dict of str to float or int
        ``void_fraction`` (void voxels that are not crack / all voxels),
        ``total_porosity`` (void and crack voxels / all voxels),
        ``active_material_volume_fraction``, ``particle_count``,
        ``void_count``, ``interfacial_void_count`` (void components touching
        AM, 26-neighbourhood), ``crack_volume_fraction`` (crack voxels / particle
        envelope voxels, AM and crack), ``crack_count``, ``contact_area`` and
        ``active_surface_area`` (µm²; the AM mesh less the triangles facing a
        crack), ``contact_fraction``.
    stage_seconds : dict of str to float
        Wall time of each stage (``time.perf_counter``): ``preprocess``,
        ``phases``, ``particles``, ``voids``, ``cracks``, ``metrics``.

    Examples
    --------
    >>> image = np.full((20, 20, 20), 20000.0)
    >>> image[5:15, 5:15, 5:15] = 40000.0
    >>> metrics, seconds = naive_analysis(image, 0.5, (10000, 30000))
    >>> metrics["particle_count"], metrics["void_count"], sorted(seconds)
    (1, 0, ['cracks', 'metrics', 'particles', 'phases', 'preprocess', 'voids'])
    """
    spacing = float(spacing)
    seconds = {}

    start = time.perf_counter()
    smoothed = gaussian(image, sigma=1, preserve_range=True)
    seconds["preprocess"] = time.perf_counter() - start

    start = time.perf_counter()
    phases = _phases(smoothed, thresholds)
    am = phases == AM
    void = phases == VOID
    seconds["phases"] = time.perf_counter() - start

    start = time.perf_counter()
    _, particle_count = _particles(am, spacing, max_radius_um)
    seconds["particles"] = time.perf_counter() - start

    start = time.perf_counter()
    _, void_count, interfacial_void_count = _voids(void, am)
    seconds["voids"] = time.perf_counter() - start

    start = time.perf_counter()
    crack, crack_count = _cracks(void, am)
    seconds["cracks"] = time.perf_counter() - start

    start = time.perf_counter()
    total = phases.size
    contact_area, active_surface_area = _surface_areas(phases, am, crack, spacing)
    metrics = {
        "void_fraction": np.count_nonzero(void & ~crack) / total,
        "total_porosity": np.count_nonzero(void) / total,
        "active_material_volume_fraction": np.count_nonzero(am) / total,
        "particle_count": particle_count,
        "void_count": int(void_count),
        "interfacial_void_count": int(interfacial_void_count),
        "crack_volume_fraction": np.count_nonzero(crack) / (np.count_nonzero(am) + np.count_nonzero(crack)),
        "crack_count": int(crack_count),
        "contact_area": contact_area,
        "active_surface_area": active_surface_area,
        "contact_fraction": contact_area / active_surface_area if active_surface_area else float("nan"),
    }
    seconds["metrics"] = time.perf_counter() - start
    return metrics, seconds
