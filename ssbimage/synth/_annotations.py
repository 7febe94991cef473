"""Annotations like a user's brush strokes, drawn from a phantom's truth to train a classifier."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._scene import ELECTROLYTE, LITHIUM

__all__ = ["simulate_annotations", "simulate_dendrite_annotations"]


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


def simulate_dendrite_annotations(phantom, *, per_class: int = 10000, on_dendrites: int = 5000,
                                  outline: int = 3000, seed: int = 0) -> np.ndarray:
    """Brush strokes on an anode phantom, painted as a user teaches a classifier dendrites.

    Every phase gets :func:`simulate_annotations` strokes, but the lithium
    ones are split between the dendrites (``on_dendrites`` voxels) and the
    Li-metal layer (the rest of ``per_class``), and ``outline`` of the
    electrolyte strokes are moved to the electrolyte voxels touching a
    dendrite (26-neighbours). Without those, the strokes that tell lithium
    from electrolyte lie almost all on the flat layer surface, and the
    classifier widens the thin filaments by a voxel: on the 128³ anode
    phantoms, test seeds 2–12, the outline strokes raise the mean dendrite Dice
    from 0.819 to 0.831 (docs/segmentation.md).

    Parameters
    ----------
    phantom : Phantom
        An :func:`~ssbimage.synth.anode_interface` phantom (in memory: training
        volumes are small).
    per_class : int
        Annotated voxels per phase.
    on_dendrites : int
        Lithium strokes on the dendrites (fewer if they hold fewer voxels).
    outline : int
        Electrolyte strokes along the dendrites' outline; 0 leaves them where
        :func:`simulate_annotations` put them.
    seed : int

    Returns
    -------
    (Z, Y, X) uint8 array, 0 = not annotated.

    Examples
    --------
    >>> from ssbimage.synth import anode_interface
    >>> phantom = anode_interface((48, 48, 48), 0.5, n_dendrites=2, seed=1)
    >>> marks = simulate_dendrite_annotations(phantom, per_class=500, on_dendrites=200, outline=100)
    >>> dendrites = phantom.labels["dendrites"].data.compute() > 0
    >>> int(((marks == 5) & dendrites).sum()) >= 150, int((marks == 1).sum()) <= 500
    (True, True)
    """
    phases = phantom.phases.data.compute()
    dendrites = phantom.labels["dendrites"].data.compute() > 0
    marks = simulate_annotations(phases, per_class=per_class, seed=seed)
    rng = np.random.default_rng(seed)
    marks[marks == LITHIUM] = 0
    on = rng.choice(np.flatnonzero(dendrites), min(on_dendrites, np.count_nonzero(dendrites)), replace=False)
    layer = np.flatnonzero((phases == LITHIUM) & ~dendrites)
    marks.ravel()[on] = LITHIUM
    marks.ravel()[rng.choice(layer, min(len(layer), per_class - len(on)), replace=False)] = LITHIUM
    if outline:
        rng = np.random.default_rng(seed + 1)
        rim = np.flatnonzero((phases == ELECTROLYTE) & ndimage.binary_dilation(dendrites, np.ones((3, 3, 3))))
        n = min(outline, len(rim))
        marks.ravel()[rng.choice(np.flatnonzero(marks == ELECTROLYTE), n, replace=False)] = 0
        marks.ravel()[rng.choice(rim, n, replace=False)] = ELECTROLYTE
    return marks
