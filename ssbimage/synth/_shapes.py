"""Geometric primitives in µm, evaluated on voxel grids or on point sets.

Every primitive answers two questions: its axis-aligned bounding box, and
which of a set of points lie inside it. Points come as broadcastable
``(z, y, x)`` arrays, so the same code rasterises an open grid
(``np.ogrid``-shaped) and classifies flat point lists (for surface
quadrature). Nothing here knows about phases; `_scene` does the painting.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def _delta(z, y, x, centre):
    return z - centre[0], y - centre[1], x - centre[2]


def random_rotation(rng) -> np.ndarray:
    """A uniformly random 3D rotation matrix (columns are the new axes)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


@dataclasses.dataclass(frozen=True)
class Ellipsoid:
    """Solid ellipsoid; a sphere when the three semi-axes are equal.

    ``rotation`` columns are the principal directions (z, y, x components),
    ``axes`` the semi-axis lengths along them (µm).
    """

    centre: np.ndarray
    axes: np.ndarray
    rotation: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

    @classmethod
    def sphere(cls, centre, radius) -> Ellipsoid:
        return cls(np.asarray(centre, float), np.full(3, float(radius)))

    @property
    def is_sphere(self) -> bool:
        return bool(np.ptp(self.axes) == 0)

    @property
    def radius(self) -> float:
        """Bounding radius (largest semi-axis)."""
        return float(self.axes.max())

    @property
    def volume(self) -> float:
        return float(4 / 3 * np.pi * np.prod(self.axes))

    def bbox(self):
        half = np.sqrt(((self.rotation * self.axes) ** 2).sum(axis=1))
        return self.centre - half, self.centre + half

    def level(self, z, y, x):
        """Normalised squared radius q: q <= 1 inside, q = 1 on the surface."""
        dz, dy, dx = _delta(z, y, x, self.centre)
        q = 0.0
        for k in range(3):
            r = self.rotation[:, k]
            q = q + ((r[0] * dz + r[1] * dy + r[2] * dx) / self.axes[k]) ** 2
        return q

    def inside(self, z, y, x):
        return self.level(z, y, x) <= 1.0

    def translated(self, shift) -> Ellipsoid:
        return dataclasses.replace(self, centre=self.centre + shift)

    def scaled(self, factor: float) -> Ellipsoid:
        return dataclasses.replace(self, axes=self.axes * factor)


@dataclasses.dataclass(frozen=True)
class Capsule:
    """All points within ``radius`` of the segment ``start``–``end`` (a filament piece)."""

    start: np.ndarray
    end: np.ndarray
    radius: float

    def bbox(self):
        return np.minimum(self.start, self.end) - self.radius, np.maximum(self.start, self.end) + self.radius

    def inside(self, z, y, x):
        axis = self.end - self.start
        length2 = float(axis @ axis)
        dz, dy, dx = _delta(z, y, x, self.start)
        t = (dz * axis[0] + dy * axis[1] + dx * axis[2]) / length2 if length2 else 0.0
        t = np.clip(t, 0.0, 1.0)
        return ((dz - t * axis[0]) ** 2 + (dy - t * axis[1]) ** 2 + (dx - t * axis[2]) ** 2
                <= self.radius**2)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end - self.start))

    def translated(self, shift) -> Capsule:
        return dataclasses.replace(self, start=self.start + shift, end=self.end + shift)


@dataclasses.dataclass(frozen=True)
class Sheet:
    """A thin planar gap: a disc of ``radius`` and thickness ``2 * half_width``.

    With ``half_plane`` set (a unit vector in the plane) only the half of
    the disc on that side of ``centre`` is kept: a radial crack running from
    the centre outwards.
    """

    centre: np.ndarray
    normal: np.ndarray
    half_width: float
    radius: float
    half_plane: np.ndarray | None = None

    def bbox(self):
        # disc of radius R in a plane with normal n: extent per axis R*sqrt(1-n_i^2) + w*|n_i|
        n = self.normal
        half = self.radius * np.sqrt(np.clip(1 - n**2, 0, None)) + self.half_width * np.abs(n)
        return self.centre - half, self.centre + half

    def inside(self, z, y, x):
        dz, dy, dx = _delta(z, y, x, self.centre)
        n = self.normal
        along = n[0] * dz + n[1] * dy + n[2] * dx
        in_plane2 = dz**2 + dy**2 + dx**2 - along**2
        mask = (np.abs(along) <= self.half_width) & (in_plane2 <= self.radius**2)
        if self.half_plane is not None:
            m = self.half_plane
            mask = mask & (m[0] * dz + m[1] * dy + m[2] * dx >= 0)
        return mask

    def translated(self, shift) -> Sheet:
        return dataclasses.replace(self, centre=self.centre + shift)


@dataclasses.dataclass(frozen=True)
class CapShell:
    """The gap a shrinking particle leaves: a shell of ``thickness`` outside a
    sphere, over the spherical cap within ``angle`` (radians) of ``direction``."""

    particle: Ellipsoid
    thickness: float
    direction: np.ndarray
    angle: float

    def bbox(self):
        r = self.particle.radius + self.thickness
        return self.particle.centre - r, self.particle.centre + r

    def inside(self, z, y, x):
        dz, dy, dx = _delta(z, y, x, self.particle.centre)
        dist2 = dz**2 + dy**2 + dx**2
        r = self.particle.radius
        a = self.direction
        cos_to_axis = (a[0] * dz + a[1] * dy + a[2] * dx)
        in_cap = cos_to_axis >= np.cos(self.angle) * np.sqrt(dist2)
        return (dist2 > r**2) & (dist2 <= (r + self.thickness) ** 2) & in_cap

    @property
    def cap_area(self) -> float:
        """Area of the particle surface the shell covers, 2πr²(1 − cos θ) (µm²)."""
        return float(2 * np.pi * self.particle.radius**2 * (1 - np.cos(self.angle)))

    def translated(self, shift) -> CapShell:
        return dataclasses.replace(self, particle=self.particle.translated(shift))


@dataclasses.dataclass(frozen=True)
class Slab:
    """All points with ``low <= z <= high`` (µm): a layer through the whole sample."""

    low: float
    high: float

    def bbox(self):
        far = 1e9  # µm: unbounded in y and x, finite so index arithmetic stays integer
        return np.array([self.low, -far, -far]), np.array([self.high, far, far])

    def inside(self, z, y, x):
        return (z >= self.low) & (z <= self.high) & np.ones_like(y + x, dtype=bool)

    def translated(self, shift) -> Slab:
        return Slab(self.low + shift[0], self.high + shift[0])
