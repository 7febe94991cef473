"""Phase maps from global grey-level thresholds (multi-Otsu on the whole-volume histogram)."""

from __future__ import annotations

import numpy as np

from .._arrays import as_dask
from ..measure import intensity_histogram, intensity_summary

__all__ = ["PHASE_ORDER", "global_thresholds", "threshold_phases"]

# Phase codes from dark to bright, per sample type (DESIGN.md attenuation order).
PHASE_ORDER = {
    "cathode": (3, 1, 2),      # void < solid electrolyte < active material
    "anode": (5, 1),           # lithium (and voids) < solid electrolyte
    "full-cell": (5, 1, 2),    # lithium/void < solid electrolyte < active material
}


def global_thresholds(image, classes: int, *, bins: int = 1024) -> np.ndarray:
    """Multi-Otsu thresholds of the whole volume's grey-level histogram.

    The histogram is accumulated chunk by chunk over ``[min, max]`` with
    ``bins`` bins (never per chunk), and multi-Otsu runs on it with
    ``hist=``, so the cost does not depend on the grey-level depth.

    Returns
    -------
    (classes - 1,) ndarray of float
        Increasing thresholds in grey values.
    """
    from skimage.filters import threshold_multiotsu

    summary = intensity_summary(image, bins=8)
    low, high = summary["min"], summary["max"]
    counts, edges = intensity_histogram(image, bins=bins, range=(low, high if high > low else low + 1))
    centres = 0.5 * (edges[:-1] + edges[1:])
    return np.asarray(threshold_multiotsu(hist=(counts.compute(), centres), classes=classes), float)


def threshold_phases(image, *, sample: str = "cathode", thresholds=None, bins: int = 1024):
    """Phase map (DESIGN.md codes) by global grey-level thresholds.

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
        Grey values, ideally denoised first (:func:`ssbimage.filters.gaussian`).
    sample : {"cathode", "anode", "full-cell"}
        Fixes how many phases there are and their order from dark to bright.
    thresholds : sequence of float, optional
        Manual thresholds (increasing, one fewer than the phases); default
        multi-Otsu on the global histogram.
    bins : int
        Histogram bins for multi-Otsu.

    Returns
    -------
    phases : (Z, Y, X) dask array of uint8
    thresholds : ndarray of float
        The thresholds used.

    Notes
    -----
    Multi-Otsu assumes each phase forms its own histogram mode. On the
    default cathode phantom it does not hold: voids are 3 % of the volume and
    mostly 2-voxel shells blurred to grey, and partial volume at the many
    particle surfaces fills the valley between electrolyte and active
    material, so multi-Otsu places both thresholds too high (measured Dice
    0.53 electrolyte, 0.92 active material, 0.17 void). Pass ``thresholds``
    or use a trained classifier there.
    """
    if sample not in PHASE_ORDER:
        raise ValueError(f"sample must be one of {sorted(PHASE_ORDER)}, got {sample!r}")
    order = PHASE_ORDER[sample]
    data = as_dask(image)
    if thresholds is None:
        thresholds = global_thresholds(data, len(order), bins=bins)
    thresholds = np.asarray(thresholds, float)
    if thresholds.shape != (len(order) - 1,) or np.any(np.diff(thresholds) <= 0):
        raise ValueError(f"a {sample} needs {len(order) - 1} increasing thresholds, got {thresholds}")
    codes = np.asarray(order, np.uint8)
    phases = data.map_blocks(lambda b: codes[np.digitize(b, thresholds)], dtype=np.uint8)
    return phases, thresholds
