"""Ground truth shared by the phantoms: voxel counts and surface integrals."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd

from .._arrays import label_counts
from ._quadrature import ellipsoid_surface, inside_box, sheet_midsurface
from ._scene import ACTIVE, CRACK, ELECTROLYTE, OUTSIDE, VOID

EPSILON = 1e-3  # µm: offset of the inner/outer probe points from a surface


def box_bounds(shape, spacing):
    """Continuous sample box (µm): voxel i covers [(i - ½)s, (i + ½)s]."""
    spacing = np.asarray(spacing, float)
    return -0.5 * spacing, (np.asarray(shape) - 0.5) * spacing


def voxel_counts(phantom, n_labels: dict[str, int]):
    """Phase counts and per-label voxel counts of a phantom, in one pass."""
    phases = phantom.phases.data
    tasks = {"phases": label_counts(phases, 5)}
    for kind, n in n_labels.items():
        tasks[kind] = label_counts(phantom.labels[kind].data, n)
    (computed,) = dask.compute(tasks)
    return computed


def particle_surfaces(scene, particles, shape, spacing, step):
    """Per particle: exposed AM surface, contact with SE, interface with voids (µm²).

    ``particles`` is a list of (label, Ellipsoid). A surface element counts
    when the material just inside it is this particle's active material and
    lies in the sample box; it is *exposed* unless the other side is active
    material too (a touching or sintered neighbour) or outside the sample.
    """
    lo, hi = box_bounds(shape, spacing)
    rows = []
    for label, shape_ in particles:
        points, normals, weights = ellipsoid_surface(shape_, step)
        keep = inside_box(points, lo, hi)
        points, normals, weights = points[keep], normals[keep], weights[keep]
        both = scene.classify(np.concatenate([points - EPSILON * normals, points + EPSILON * normals]))
        n = len(points)
        inner = {k: v[:n] for k, v in both.items()}
        outer = {k: v[n:] for k, v in both.items()}
        own = (inner["owner"] == label) & (inner["phases"] == ACTIVE)
        outside_phase = outer["phases"]
        exposed = own & (outside_phase != ACTIVE) & (outside_phase != OUTSIDE)
        exposed &= inside_box(points + EPSILON * normals, lo, hi)
        rows.append({
            "label": label,
            "surface_area_um2": float(weights[exposed].sum()),
            "contact_area_um2": float(weights[exposed & (outside_phase == ELECTROLYTE)].sum()),
            "void_interface_area_um2": float(weights[exposed & (outside_phase == VOID)].sum()),
        })
    return pd.DataFrame(rows, columns=["label", "surface_area_um2", "contact_area_um2",
                                       "void_interface_area_um2"])


def crack_midsurfaces(scene, cracks, shape, spacing, step):
    """Per crack: mid-surface area (one side) inside its host and the box (µm²)."""
    lo, hi = box_bounds(shape, spacing)
    rows = []
    for label, sheet in cracks:
        points, weights = sheet_midsurface(sheet, step)
        keep = inside_box(points, lo, hi)
        points, weights = points[keep], weights[keep]
        found = scene.classify(points)
        is_crack = (found["phases"] == CRACK) & (found["cracks"] == label)
        rows.append({"label": label, "midsurface_area_um2": float(weights[is_crack].sum())})
    return pd.DataFrame(rows, columns=["label", "midsurface_area_um2"])


def metric_rows(rows) -> pd.DataFrame:
    """Truth table from (metric, value, unit, source) tuples."""
    return pd.DataFrame(rows, columns=["metric", "value", "unit", "source"])
