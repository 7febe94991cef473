"""Gradient magnitude and Hessian eigenvalues of a smoothed block, per voxel in one compiled pass.

The derivatives are NumPy's ``np.gradient`` (central differences, one-sided
at the block's faces) applied twice, as the features were first written.
Computed per voxel, and only for the voxels a block keeps (not its halo),
they need none of the block-sized temporaries of the array version.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["first_derivatives", "hessian_columns"]

HALF = np.float32(0.5)


@numba.njit(cache=True, nogil=True)
def _difference(g, z, y, x, axis):  # pragma: no cover - compiled
    """``np.gradient(g, axis=axis)`` at one voxel (unit spacing, edge order 1), float32."""
    n = g.shape[axis]
    i = (z, y, x)[axis]
    if n < 2:
        return np.float32(0.0)
    lo, hi = max(i - 1, 0), min(i + 1, n - 1)
    if axis == 0:
        step = g[hi, y, x] - g[lo, y, x]
    elif axis == 1:
        step = g[z, hi, x] - g[z, lo, x]
    else:
        step = g[z, y, hi] - g[z, y, lo]
    return step * HALF if hi - lo == 2 else step


@numba.njit(cache=True, nogil=True)
def first_derivatives(smooth, gz, gy, gx):  # pragma: no cover - compiled
    """Fill ``gz, gy, gx`` with ``np.gradient(smooth)`` (float32 arrays of its shape)."""
    nz, ny, nx = smooth.shape
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                gz[z, y, x] = _difference(smooth, z, y, x, 0)
                gy[z, y, x] = _difference(smooth, z, y, x, 1)
                gx[z, y, x] = _difference(smooth, z, y, x, 2)


@numba.njit(cache=True, nogil=True)
def _eigenvalues(a, b, c, d, e, f):  # pragma: no cover - compiled
    """Ascending eigenvalues of [[a, d, e], [d, b, f], [e, f, c]] (trigonometric solution), float64."""
    q = (a + b + c) / 3
    p = math.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * (d * d + e * e + f * f)) / 6)
    if p == 0:
        return q, q, q
    ba, bb, bc, bd, be, bf = (a - q) / p, (b - q) / p, (c - q) / p, d / p, e / p, f / p
    r = 0.5 * (ba * (bb * bc - bf * bf) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be))
    phi = math.acos(min(max(r, -1.0), 1.0)) / 3
    largest = q + 2 * p * math.cos(phi)
    smallest = q + 2 * p * math.cos(phi + 2 * math.pi / 3)
    return smallest, 3 * q - largest - smallest, largest


@numba.njit(cache=True, nogil=True)
def hessian_columns(gz, gy, gx, origin, out, gradient, eigen):  # pragma: no cover - compiled
    """Per voxel of ``out`` (Z, Y, X, F), the voxel ``origin`` + (z, y, x) of the derivatives:
    the gradient magnitude in column ``gradient`` and the ascending Hessian
    eigenvalues in columns ``eigen`` (3 ints); a column of -1 is not written.
    ``gz, gy, gx`` are the first derivatives (:func:`first_derivatives`)."""
    nz, ny, nx = out.shape[:3]
    oz, oy, ox = origin
    for k in range(nz):
        z = k + oz
        for j in range(ny):
            y = j + oy
            for i in range(nx):
                x = i + ox
                dz, dy, dx = gz[z, y, x], gy[z, y, x], gx[z, y, x]
                if gradient >= 0:
                    out[k, j, i, gradient] = np.sqrt(dz * dz + dy * dy + dx * dx)
                # the Hessian as np.gradient of each first derivative, as the array version had it
                low, mid, high = _eigenvalues(float(_difference(gz, z, y, x, 0)), float(_difference(gy, z, y, x, 1)),
                                              float(_difference(gx, z, y, x, 2)), float(_difference(gz, z, y, x, 1)),
                                              float(_difference(gz, z, y, x, 2)), float(_difference(gy, z, y, x, 2)))
                if eigen[0] >= 0:
                    out[k, j, i, eigen[0]] = low
                if eigen[1] >= 0:
                    out[k, j, i, eigen[1]] = mid
                if eigen[2] >= 0:
                    out[k, j, i, eigen[2]] = high
