"""A scene: an ordered list of paint operations that defines every voxel's phase.

The same scene rasterises any block of a volume (so a phantom is generated
chunk by chunk, each chunk identical to the same region of the whole) and
classifies arbitrary points (so surface areas can be integrated on the
continuous geometry). Phases are the DESIGN.md codes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

OUTSIDE, ELECTROLYTE, ACTIVE, VOID, CRACK, LITHIUM = range(6)
LABEL_KINDS = ("particles", "voids", "cracks", "dendrites")


@dataclasses.dataclass(frozen=True)
class Paint:
    """Set ``phase`` (and instance ``label`` in ``kind``) where ``shape`` covers
    a point whose current phase is in ``where``.

    ``rule="particle"`` paints active material with ownership: a point inside
    several overlapping particles belongs to the one whose normalised radius
    is smallest, so touching/sintered particles have an exact partition.
    ``host`` restricts a crack to its own particle.
    """

    shape: object
    phase: int
    kind: str | None = None
    label: int = 0
    where: tuple[int, ...] = (ELECTROLYTE,)
    rule: str = "replace"
    host: int = 0


class Scene:
    """Ordered paint operations over a background phase, inside a sample box."""

    def __init__(self, paints, *, background=ELECTROLYTE, sample_mask=None):
        self.paints = list(paints)
        self.background = background
        self.sample_mask = sample_mask  # a shape; points outside it are phase 0
        boxes = [p.shape.bbox() for p in self.paints] or [(np.zeros(3), np.zeros(3))]
        self._lo = np.array([b[0] for b in boxes], float)
        self._hi = np.array([b[1] for b in boxes], float)

    def translated(self, shift) -> Scene:
        shift = np.asarray(shift, float)
        paints = [dataclasses.replace(p, shape=p.shape.translated(shift)) for p in self.paints]
        mask = None if self.sample_mask is None else self.sample_mask.translated(shift)
        return Scene(paints, background=self.background, sample_mask=mask)

    def _candidates(self, lo, hi):
        hit = np.all((self._lo <= hi) & (self._hi >= lo), axis=1)
        return [self.paints[i] for i in np.flatnonzero(hit)]

    def _paint(self, canvas) -> None:
        for op in self._candidates(*canvas.bounds()):
            region = canvas.region(*op.shape.bbox())
            if region is None:
                continue
            index, (z, y, x) = region
            phase = canvas.phase[index]
            if op.rule == "particle":
                level = op.shape.level(z, y, x)
                take = (level <= 1.0) & (level < canvas.level[index])
                canvas.set(index, take, level=level, phase=ACTIVE, owner=op.label)
                continue
            take = op.shape.inside(z, y, x) & np.isin(phase, op.where)
            if op.host:
                take &= canvas.owner[index] == op.host
            canvas.set(index, take, phase=op.phase, **({op.kind: op.label} if op.kind else {}))
        if self.sample_mask is not None:
            index, (z, y, x) = canvas.region(*canvas.bounds())
            out = ~self.sample_mask.inside(z, y, x)
            canvas.set(index, out, phase=OUTSIDE, owner=0, **{k: 0 for k in LABEL_KINDS})

    def rasterize(self, start, shape, spacing) -> dict[str, np.ndarray]:
        """Phase map and instance labels of the voxel block at index ``start``."""
        canvas = _GridCanvas(start, shape, spacing, self.background)
        self._paint(canvas)
        return canvas.result()

    def classify(self, points) -> dict[str, np.ndarray]:
        """Phase, particle owner and labels at (N, 3) points in µm."""
        canvas = _PointCanvas(np.asarray(points, float), self.background)
        self._paint(canvas)
        return canvas.result()


class _Canvas:
    def _init_fields(self, shape, background):
        self.phase = np.full(shape, background, np.uint8)
        self.owner = np.zeros(shape, np.uint32)
        self.level = np.full(shape, np.inf, np.float32)
        self.labels = {k: np.zeros(shape, np.uint32) for k in LABEL_KINDS}

    def _field(self, name):
        return self.labels[name] if name in self.labels else getattr(self, name)

    def result(self):
        particles = np.where(np.isin(self.phase, (ACTIVE, CRACK)), self.owner, 0).astype(np.uint32)
        return {"phases": self.phase, **self.labels, "particles": particles, "owner": self.owner}


class _GridCanvas(_Canvas):
    """A block of voxels; voxel (i, j, k) has its centre at (i, j, k) * spacing µm."""

    def __init__(self, start, shape, spacing, background):
        self.start = np.asarray(start, int)
        self.shape = tuple(int(n) for n in shape)
        self.spacing = np.asarray(spacing, float)
        self._init_fields(self.shape, background)

    def bounds(self):
        lo = self.start * self.spacing
        return lo, lo + (np.asarray(self.shape) - 1) * self.spacing

    def region(self, lo, hi):
        first = np.maximum(np.ceil(np.asarray(lo) / self.spacing - 1e-9).astype(np.int64) - self.start, 0)
        last = np.minimum(np.floor(np.asarray(hi) / self.spacing + 1e-9).astype(np.int64) - self.start,
                          np.asarray(self.shape) - 1)
        if np.any(last < first):
            return None
        index = tuple(slice(int(a), int(b) + 1) for a, b in zip(first, last))
        coords = np.ogrid[index]
        coords = [(c + s0) * s for c, s0, s in zip(coords, self.start, self.spacing)]
        return index, coords

    def set(self, index, mask, **values):
        for name, value in values.items():
            view = self._field(name)[index]
            if np.ndim(value):
                view[mask] = value[mask]
            else:
                view[mask] = value


class _PointCanvas(_Canvas):
    def __init__(self, points, background):
        self.points = points
        self._order = np.argsort(points[:, 0], kind="stable")
        self._z = points[self._order, 0]
        self._init_fields((len(points),), background)

    def bounds(self):
        if len(self.points) == 0:
            return np.zeros(3), -np.ones(3)
        return self.points.min(axis=0), self.points.max(axis=0)

    def region(self, lo, hi):
        # points sorted by z: a binary search narrows to the slab, then test y and x
        first = np.searchsorted(self._z, lo[0], side="left")
        last = np.searchsorted(self._z, hi[0], side="right")
        index = self._order[first:last]
        p = self.points[index]
        keep = (p[:, 1] >= lo[1]) & (p[:, 1] <= hi[1]) & (p[:, 2] >= lo[2]) & (p[:, 2] <= hi[2])
        index, p = index[keep], p[keep]
        if index.size == 0:
            return None
        return index, (p[:, 0], p[:, 1], p[:, 2])

    def set(self, index, mask, **values):
        chosen = index[mask]
        for name, value in values.items():
            field = self._field(name)
            field[chosen] = value[mask] if np.ndim(value) else value
