"""Tortuosity factor of a conducting phase: steady diffusion solved on its voxels.

The voxels of the phase's components that join the two faces (6-connected)
are finite volumes joined through their shared faces
(conductance = face area / centre distance); concentration 1 is held on the
low face of ``axis`` and 0 on the high face (half a voxel from the first and
last voxel centres), every other face is sealed. The flux J through the
volume gives the relative effective diffusivity D_eff / D = J L / (A Δc),
and the tortuosity factor τ = ε D / D_eff, ε the phase's volume fraction
(the definition of TauFactor, Cooper et al. 2016). Straight channels give
τ = 1 exactly.

The linear system is solved in memory with SciPy's conjugate gradients
(Jacobi-preconditioned): this is for volumes that fit, not for chunks.
TauFactor itself needs PyTorch, a dependency far heavier than this one
function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage, sparse
from scipy.sparse import linalg

from .._arrays import as_dask
from .._spacing import check_spacing

__all__ = ["tortuosity_factor"]


def _joining_both_faces(mask):
    """The phase's voxels in components (face-connected) that touch both faces of axis 0."""
    components, _ = ndimage.label(mask)
    joined = np.intersect1d(np.unique(components[0]), np.unique(components[-1]))
    keep = np.zeros(components.max() + 1, bool)
    keep[joined] = True
    keep[0] = False
    return keep[components]


def tortuosity_factor(phases, *, phase: int = 1, axis: int = 0, spacing=None, rtol: float = 1e-9,
                      max_voxels: int = 2 ** 24) -> pd.DataFrame:
    """Through-thickness tortuosity factor of one phase (default the solid electrolyte).

    Parameters
    ----------
    phases : (Z, Y, X) integer array or Volume
        Phase map; read into memory.
    phase : int or sequence of int
        The conducting phase code(s).
    axis : int
        Transport direction (0 = z, through the electrode).
    spacing : float or (3,) floats, optional
        Voxel size in µm.
    rtol : float
        Relative residual at which conjugate gradients stop.
    max_voxels : int
        Larger volumes are refused (the solve holds the whole system in memory).

    Returns
    -------
    pandas.DataFrame
        ``metric, value, unit``: ``tortuosity_factor``,
        ``effective_diffusivity`` (D_eff / D), ``conducting_fraction`` (ε)
        and ``percolating_fraction`` (share of the phase joined to both faces).
        No path across: τ = inf, D_eff = 0.

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.full((10, 6, 6), 2, np.uint8); phases[:, :, :3] = 1   # straight channels
    >>> table = tortuosity_factor(phases).set_index("metric").value
    >>> round(float(table["tortuosity_factor"]), 6), float(table["conducting_fraction"])
    (1.0, 0.5)
    """
    spacing = check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3)
    data = as_dask(phases)
    if data.size > max_voxels:
        raise ValueError(f"tortuosity is solved in memory: {data.size} voxels is more than "
                         f"max_voxels={max_voxels}; crop or downsample the volume")
    data = np.moveaxis(np.asarray(data.compute()), axis, 0)
    s = np.asarray(spacing, float)[[axis] + [a for a in range(3) if a != axis]]
    mask = np.isin(data, np.atleast_1d(phase))
    epsilon = float(mask.mean())
    active = _joining_both_faces(mask)
    index = np.full(mask.shape, -1, np.int64)
    index[active] = np.arange(np.count_nonzero(active))
    n = int(active.sum())
    rows, cols, vals = [], [], []
    diagonal = np.zeros(n)
    rhs = np.zeros(n)
    for a in range(3):
        conductance = np.prod(np.delete(s, a)) / s[a]
        lo, hi = [slice(None)] * 3, [slice(None)] * 3
        lo[a], hi[a] = slice(0, -1), slice(1, None)
        both = active[tuple(lo)] & active[tuple(hi)]
        i, j = index[tuple(lo)][both], index[tuple(hi)][both]
        rows += [i, j]
        cols += [j, i]
        vals += [np.full(len(i), -conductance)] * 2
        np.add.at(diagonal, i, conductance)
        np.add.at(diagonal, j, conductance)
    face = 2 * np.prod(s[1:]) / s[0]  # half a voxel to the held faces
    first, last = index[0][active[0]], index[-1][active[-1]]
    diagonal[first] += face
    diagonal[last] += face
    rhs[first] += face * 1.0
    matrix = sparse.csr_matrix((np.concatenate(vals + [diagonal]),
                                (np.concatenate(rows + [np.arange(n)]), np.concatenate(cols + [np.arange(n)]))),
                               shape=(n, n))
    percolating = float(n / max(mask.sum(), 1))
    if n:
        preconditioner = sparse.diags(1 / diagonal)
        concentration, info = linalg.cg(matrix, rhs, rtol=rtol, maxiter=20 * n, M=preconditioner)
        if info:
            raise RuntimeError(f"conjugate gradients did not converge ({info} iterations)")
        flux = float(np.sum(face * (1.0 - concentration[first])))
        length = data.shape[0] * s[0]
        area = data.shape[1] * s[1] * data.shape[2] * s[2]
        relative = flux * length / area
    else:
        relative = 0.0
    tau = epsilon / relative if relative > 0 else np.inf
    return pd.DataFrame([("tortuosity_factor", tau, "1"), ("effective_diffusivity", relative, "1"),
                         ("conducting_fraction", epsilon, "1"), ("percolating_fraction", percolating, "1")],
                        columns=["metric", "value", "unit"])
