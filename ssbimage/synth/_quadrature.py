"""Surface integrals on the continuous geometry.

Areas are integrated over each object's exact surface with an equal-area
quadrature and classified by evaluating the scene's phase just inside and
just outside the surface. This gives contact areas, exposed surface areas
and crack mid-surface areas for any arrangement (touching particles, shells,
crack mouths, the sample boundary) without special-case formulas. The rule is
exact up to round-off on whole spheres and converges at O(h) along region
boundaries (cap rims, crack mouths, the box): with nodes 0.5 voxel apart the
error is below 0.1 % for particles of 4 voxels radius and more
(tests/test_synth_truth.py checks it against closed forms).
"""

from __future__ import annotations

import numpy as np

from ._shapes import Ellipsoid, Sheet

# A fixed, generic rotation of the sphere grid (from a seeded QR): quadrature
# rows never line up with the sample faces, so those cuts err randomly, not all
# at once by half a row.
_OBLIQUE = np.linalg.qr(np.random.default_rng(20261125).normal(size=(3, 3)))[0]


def ellipsoid_surface(shape: Ellipsoid, step: float):
    """Quadrature nodes on an ellipsoid surface.

    Returns points (N, 3), outward unit normals (N, 3) and area weights (N,)
    in µm²; ``step`` is the target node spacing in µm. The nodes are the
    midpoints of an equal-area (cos θ, φ) grid on the unit sphere, mapped by
    x = M u with M = R diag(axes); the area element is det(M) |M⁻ᵀ u| dΩ.
    """
    n_polar = max(48, int(np.ceil(np.pi * shape.radius / step)))
    n_azimuth = 2 * n_polar
    cos_theta = -1 + (np.arange(n_polar) + 0.5) * (2.0 / n_polar)
    phi = (np.arange(n_azimuth) + 0.5) * (2 * np.pi / n_azimuth)
    c, p = np.meshgrid(cos_theta, phi, indexing="ij")
    s = np.sqrt(1 - c**2)
    u = np.stack([c.ravel(), (s * np.sin(p)).ravel(), (s * np.cos(p)).ravel()], axis=1)
    u = u @ _OBLIQUE.T  # tilt the grid so that no axis-aligned cut follows its rows
    m = shape.rotation * shape.axes  # columns scaled: M = R diag(a)
    inverse_t = np.linalg.inv(m).T
    g = u @ inverse_t.T  # M^-T u per node
    g_norm = np.linalg.norm(g, axis=1)
    weights = abs(np.linalg.det(m)) * g_norm * (2.0 / n_polar) * (2 * np.pi / n_azimuth)
    points = shape.centre + u @ m.T
    normals = g / g_norm[:, None]
    return points, normals, weights


def sheet_midsurface(sheet: Sheet, step: float):
    """Quadrature nodes on a crack sheet's mid-plane disc (half disc if radial).

    The nodes are the centres of a square grid of ``step`` µm in the plane
    (so the rims of what clips the disc never follow a row of nodes).
    Returns points (N, 3) and area weights (N,) in µm².
    """
    n = sheet.normal
    e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    count = 2 * max(8, int(np.ceil(sheet.radius / step)))  # even: no node on a diameter
    cell = 2 * sheet.radius / count
    a, b = np.meshgrid(*[-sheet.radius + (np.arange(count) + 0.5) * cell] * 2, indexing="ij")
    keep = a**2 + b**2 <= sheet.radius**2
    a, b = a[keep], b[keep]
    points = sheet.centre + a[:, None] * e1 + b[:, None] * e2
    weights = np.full(len(points), cell**2)
    if sheet.half_plane is not None:
        keep = (points - sheet.centre) @ sheet.half_plane >= 0
        points, weights = points[keep], weights[keep]
    return points, weights


def inside_box(points, box_lo, box_hi):
    return np.all((points >= box_lo) & (points <= box_hi), axis=1)
