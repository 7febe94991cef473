"""Annotations like a user's brush strokes, drawn from a phantom's truth to train a classifier."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["simulate_annotations"]


def simulate_annotations(phases, *, per_class: int = 10000, boundary_share: float = 0.5,
                         classes=None, seed: int = 0) -> np.ndarray:
    """A sparse label image: random voxels of each phase, part of them on phase boundaries.

    Users annotate a few strokes per phase and, to teach the classifier
    where one phase ends, along the edges; ``boundary_share`` of each
    class's voxels are drawn from within one voxel of another phase.

    Parameters
    ----------
    phases : (Z, Y, X) integer array
        A phantom's truth phase map (in memory: training volumes are small).
    per_class : int
        Annotated voxels per phase (fewer if the phase has fewer).
    boundary_share : float
        Share of them on boundaries.
    classes : sequence of int, optional
        Phases to annotate (default every phase present except 0).
    seed : int

    Returns
    -------
    (Z, Y, X) uint8 array, 0 = not annotated.

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.ones((10, 10, 10), np.uint8); phases[:, :, 5:] = 2
    >>> marks = simulate_annotations(phases, per_class=20, boundary_share=0.5)
    >>> [int(np.count_nonzero(marks == c)) for c in (1, 2)], int(np.count_nonzero(marks[:, :, 4:6]) >= 20)
    ([20, 20], 1)
    """
    phases = np.asarray(getattr(phases, "data", phases))
    if hasattr(phases, "compute"):
        phases = phases.compute()
    rng = np.random.default_rng(seed)
    classes = [int(c) for c in np.unique(phases) if c > 0] if classes is None else classes
    out = np.zeros(phases.shape, np.uint8)
    for c in classes:
        inside = phases == c
        edge = inside & ndimage.binary_dilation(~inside)
        on_edge, off_edge = np.flatnonzero(edge), np.flatnonzero(inside & ~edge)
        n_edge = min(len(on_edge), round(per_class * boundary_share))
        n_rest = min(len(off_edge), per_class - n_edge)
        picks = np.concatenate([rng.choice(on_edge, n_edge, replace=False),
                                rng.choice(off_edge, n_rest, replace=False)])
        out.ravel()[picks] = c
    return out
