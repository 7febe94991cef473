"""Composite cathode phantom: active-material particles in a solid electrolyte."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from .._spacing import check_spacing
from ._phantom import Phantom, make_phantom
from ._placement import pack_spheres, place_spheres, radii_for_volume
from ._scene import ACTIVE, CRACK, ELECTROLYTE, VOID, Paint, Scene
from ._shapes import CapShell, Ellipsoid, Sheet, random_rotation
from ._truth import crack_midsurfaces, metric_rows, particle_surfaces, voxel_counts
from ._xct import XCTModel

__all__ = ["composite_cathode"]


@dataclasses.dataclass(frozen=True)
class CathodePlan:
    """The random draws of a cathode, independent of its degradation state."""

    particles: list            # Ellipsoid per particle (label = index + 1)
    shells: list               # (particle index, axis, final angle)
    cracks: list               # (particle index, Sheet at full extent, final half-width)
    pores: list                # (centre, final radius)
    shell_thickness: float
    min_half_width: float


def _unit(rng):
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _count_for_fraction(shapes, fraction, lo, hi, rng, n_points=200_000) -> int:
    """How many of ``shapes`` (in order) it takes to fill ``fraction`` of the box.

    Monte Carlo on the union, so overlaps and boundary cuts are accounted for:
    each random point records the first shape covering it; the covered share
    after n shapes is the share of points whose first cover comes before n.
    """
    points = rng.uniform(lo, hi, size=(n_points, 3))
    first = np.full(n_points, len(shapes))
    tree = cKDTree(points)
    for rank, shape in enumerate(shapes):
        near = np.asarray(tree.query_ball_point(shape.centre, shape.radius), dtype=int)
        if near.size:
            p = points[near]
            inside = shape.inside(p[:, 0], p[:, 1], p[:, 2])
            hit = near[inside]
            first[hit] = np.minimum(first[hit], rank)
    covered = np.sort(first)
    need = int(np.ceil(fraction * n_points))
    if need >= n_points or covered[need - 1] >= len(shapes):
        return len(shapes)
    return int(covered[need - 1]) + 1


def plan_cathode(shape, spacing, *, active_fraction, radius_range, radius_median,
                 ellipsoid_fraction, max_overlap, porosity, pore_radius_range, contact_loss,
                 shell_thickness, shell_angle_range, cracked_fraction, crack_width_range,
                 seed, max_crack_opening=0.1, min_cracked_radius=0.0, region=None) -> CathodePlan:
    """Draw particles, shells, cracks and pores (at full degradation) from ``seed``."""
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, float)
    lo, hi = (-0.5 * spacing, (np.asarray(shape) - 0.5) * spacing) if region is None else region
    box_volume = float(np.prod(hi - lo))
    # pack a little more than needed (ellipsoids and overlaps lose volume) in a
    # box grown by the largest radius, so the packing is as dense at the sample
    # faces as inside; then drop a random subset until the target is met
    def draw_radius(r):
        return float(np.clip(r.lognormal(np.log(radius_median), 0.45), *radius_range))

    grow = radius_range[1]
    centres, radii = pack_spheres(seed, draw_radius, min(1.25 * active_fraction, 0.76), lo - grow,
                                  hi + grow, max_overlap=max_overlap)
    touches = np.all((centres + radii[:, None] > lo) & (centres - radii[:, None] < hi), axis=1)
    centres, radii = centres[touches], radii[touches]
    candidates = []
    for c, r in zip(centres, radii):
        if rng.random() < ellipsoid_fraction:
            axes = r * np.array([1.0, *rng.uniform(0.6, 1.0, 2)])
            candidates.append(Ellipsoid(c, axes, random_rotation(rng)))
        else:
            candidates.append(Ellipsoid.sphere(c, r))
    order = rng.permutation(len(candidates))
    n = _count_for_fraction([candidates[i] for i in order], active_fraction, lo, hi, rng)
    particles = [candidates[i] for i in sorted(order[:n])]
    shells = [(i, _unit(rng), float(rng.uniform(*shell_angle_range)))
              for i, p in enumerate(particles) if p.is_sphere and rng.random() < contact_loss]
    cracks = []
    min_step = float(spacing.min())
    for i, p in enumerate(particles):
        if rng.random() >= cracked_fraction:
            continue
        for _ in range(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1])):
            normal = _unit(rng)
            r = p.radius
            # a crack opens by a fraction of the particle's size (strain × size):
            # no 1.5 µm gap through a 4 µm particle
            half_width = min(0.5 * min_step * float(rng.uniform(*crack_width_range)),
                             max_crack_opening * r)
            kind = rng.choice(["through", "partial", "radial"])
            if kind == "through":
                sheet = Sheet(p.centre + rng.uniform(-0.3, 0.3) * r * normal, normal, half_width, 1.3 * r)
            elif kind == "partial":
                offset = _unit(rng)
                offset -= (offset @ normal) * normal
                sheet = Sheet(p.centre + rng.uniform(0, 0.3) * r * offset, normal, half_width,
                              rng.uniform(0.4, 0.8) * r)
            else:
                direction = _unit(rng)
                direction -= (direction @ normal) * normal
                direction /= np.linalg.norm(direction)
                sheet = Sheet(p.centre, normal, half_width, 1.2 * r, half_plane=direction)
            # small particles do not fracture (a critical size below which the
            # stored elastic energy cannot drive a crack)
            if half_width >= 0.5 * min_step * crack_width_range[0] and r >= min_cracked_radius:
                cracks.append((i, sheet, half_width))
    # pores in the electrolyte, kept clear of particles and their shells
    pore_radii = radii_for_volume(lambda: float(rng.uniform(*pore_radius_range)),
                                  porosity * box_volume)
    obstacle_r = np.array([p.radius for p in particles]) + shell_thickness
    pore_c, pore_r = place_spheres(
        rng, pore_radii, lo, hi, obstacles=(np.array([p.centre for p in particles]).reshape(-1, 3),
                                            obstacle_r),
        clearance=2 * min_step, tries=60,
    )
    return CathodePlan(particles, shells, cracks, list(zip(pore_c, pore_r)), shell_thickness,
                       0.5 * min_step * crack_width_range[0])


def cathode_paints(plan: CathodePlan, degradation: float, label_offset=0, void_offset=0,
                   crack_offset=0):
    """Paint operations of a cathode plan at ``degradation`` in [0, 1].

    Degradation opens the contact-loss shells (cap angle ∝ degradation),
    grows and widens the cracks (radius ∝ degradation, width from the
    narrowest to its final value) and grows the pores (radius from 60 % to 100 %).
    Returns (paints, particle list, crack list) with their labels.
    """
    f = float(np.clip(degradation, 0.0, 1.0))
    paints, particles, cracks = [], [], []
    for i, p in enumerate(plan.particles):
        label = label_offset + i + 1
        paints.append(Paint(p, ACTIVE, "particles", label, rule="particle"))
        particles.append((label, p))
    for k, (i, sheet, half_width) in enumerate(plan.cracks):
        if f <= 0:
            continue
        width = plan.min_half_width + (half_width - plan.min_half_width) * f
        grown = dataclasses.replace(sheet, radius=sheet.radius * f, half_width=width)
        label = crack_offset + k + 1
        paints.append(Paint(grown, CRACK, "cracks", label, where=(ACTIVE,), host=label_offset + i + 1))
        cracks.append((label, grown, label_offset + i + 1))
    void = void_offset
    for i, axis, angle in plan.shells:
        void += 1
        if f > 0:
            shell = CapShell(plan.particles[i], plan.shell_thickness, axis, angle * f)
            paints.append(Paint(shell, VOID, "voids", void, where=(ELECTROLYTE,)))
    n_shells = void - void_offset
    for centre, radius in plan.pores:
        void += 1
        paints.append(Paint(Ellipsoid.sphere(centre, radius * (0.6 + 0.4 * f)), VOID, "voids", void))
    return paints, particles, cracks, n_shells


def composite_cathode(
    shape=(128, 128, 128),
    spacing=0.5,
    *,
    active_fraction: float = 0.45,
    radius_range=(2.0, 10.0),
    radius_median: float = 4.0,
    ellipsoid_fraction: float = 0.25,
    max_overlap: float = 0.15,
    porosity: float = 0.02,
    pore_radius_range=(0.75, 2.0),
    contact_loss: float = 0.5,
    shell_thickness: float | None = None,
    shell_angle_range=(np.pi / 6, np.pi / 2),
    cracked_fraction: float = 0.3,
    crack_width_range=(1.0, 3.0),
    max_crack_opening: float = 0.1,
    min_cracked_radius: float = 3.0,
    degradation: float = 1.0,
    electrolyte: str = "sulfide",
    xct: XCTModel | None = None,
    shift=(0.0, 0.0, 0.0),
    chunks=64,
    seed: int = 0,
) -> Phantom:
    """A composite cathode: NMC-like particles in a solid electrolyte, with exact ground truth.

    Parameters
    ----------
    shape : tuple of 3 int
        Volume size in voxels (z, y, x).
    spacing : float or tuple of 3 float
        Voxel size in µm.
    active_fraction : float
        Target active-material volume fraction (achieved up to ~0.6).
    radius_range : (float, float)
        Particle radii (bounding radius for ellipsoids), µm; log-normal with
        median ``radius_median`` µm, clipped to this range.
    ellipsoid_fraction : float
        Share of particles that are randomly oriented ellipsoids (other semi-axes
        60–100 % of the largest); the rest are spheres.
    max_overlap : float
        Neighbours may touch and overlap by up to this fraction of the smaller
        radius (sintered contacts); overlapping voxels belong to the particle
        whose normalised radius there is smallest.
    porosity : float
        Volume fraction of isolated pores in the electrolyte (radii ``pore_radius_range`` µm).
    contact_loss : float
        Share of spherical particles that lose contact: a void shell of
        ``shell_thickness`` µm (default 2 voxels) opens over a spherical cap
        with half-angle drawn from ``shell_angle_range`` (radians).
    cracked_fraction : float
        Share of particles with 1–3 cracks: through-going planes, partial
        discs (grain boundaries) or radial half-discs from the centre, each
        ``crack_width_range`` voxels thick.
    max_crack_opening : float
        A crack is at most this fraction of its particle's diameter wide
        (openings scale with strain × particle size); particles too small to
        hold a crack of the narrowest width stay whole.
    min_cracked_radius : float
        Particles of smaller radius (µm) do not crack (critical size for
        fracture); ``cracked_fraction`` applies to the rest.
    degradation : float
        0 (pristine: no shells, no cracks, pores at 60 % radius) to 1 (the drawn state).
    electrolyte : {"sulfide", "oxide"}
        Sets the electrolyte's attenuation (oxide/LLZO is brighter).
    xct : XCTModel, optional
        Image formation; default blur σ = 1 voxel, CNR 8, rings, cupping.
    shift : tuple of 3 float
        Rigid translation of the whole sample in µm (for series).
    chunks : int or tuple
        Dask chunk shape of every output array.
    seed : int
        Same seed, same phantom.

    Returns
    -------
    Phantom
        Lazy image and labels; ``truth`` lists ``particle_count``,
        ``active_material_volume_fraction``, ``void_fraction``,
        ``total_porosity``, ``contact_area``, ``active_surface_area``,
        ``contact_fraction``, ``specific_interface_area``, ``crack_density``,
        ``crack_volume_fraction``, ``cracked_particle_fraction``,
        ``cracks_per_particle`` and particle size percentiles.

    Examples
    --------
    >>> ph = composite_cathode((32, 32, 32), 0.5, radius_range=(2, 4), seed=1)
    >>> ph.image.dtype, ph.phases.shape
    (dtype('uint16'), (32, 32, 32))
    """
    spacing = check_spacing(spacing, 3)
    shell_thickness = 2 * min(spacing) if shell_thickness is None else float(shell_thickness)
    params = dict(shape=tuple(shape), spacing=spacing, active_fraction=active_fraction,
                  radius_range=tuple(radius_range), radius_median=radius_median,
                  ellipsoid_fraction=ellipsoid_fraction, max_overlap=max_overlap, porosity=porosity,
                  pore_radius_range=tuple(pore_radius_range), contact_loss=contact_loss,
                  shell_thickness=shell_thickness, shell_angle_range=tuple(shell_angle_range),
                  cracked_fraction=cracked_fraction, crack_width_range=tuple(crack_width_range),
                  max_crack_opening=max_crack_opening,
                  min_cracked_radius=min_cracked_radius, seed=seed)
    plan = plan_cathode(**params)
    paints, particles, cracks, n_shells = cathode_paints(plan, degradation)
    scene = Scene(paints).translated(shift)
    particles = [(label, p.translated(np.asarray(shift, float))) for label, p in particles]
    cracks = [(label, s.translated(np.asarray(shift, float)), host) for label, s, host in cracks]
    xct = xct or XCTModel.for_electrolyte(electrolyte, seed=seed)
    params.update(degradation=degradation, electrolyte=electrolyte, shift=tuple(shift))
    counts = {"particles": len(plan.particles), "voids": n_shells + len(plan.pores),
              "cracks": len(plan.cracks)}
    truth = _CathodeTruth(particles, cracks, counts, n_shells)
    return make_phantom(scene, shape, spacing, chunks, xct, params, truth, "composite_cathode")


@dataclasses.dataclass
class _CathodeTruth:
    particles: list
    cracks: list
    n_labels: dict
    n_shells: int
    step_voxels: float = 0.5

    def __call__(self, phantom):
        spacing = np.asarray(phantom.spacing)
        voxel = float(np.prod(spacing))
        shape = phantom.shape
        counts = voxel_counts(phantom, self.n_labels)
        phases = counts["phases"]
        sample = phases[1:].sum()
        step = self.step_voxels * spacing.min()
        surf = particle_surfaces(phantom.scene, self.particles, shape, spacing, step)
        crack_area = crack_midsurfaces(phantom.scene, [(l, s) for l, s, _ in self.cracks],
                                       shape, spacing, step)
        objects = self._objects(counts, surf, crack_area, voxel)
        particles = objects[(objects.kind == "particle") & (objects.voxels > 0)]
        cracks = objects[(objects.kind == "crack") & (objects.voxels > 0)]
        am_volume = phases[ACTIVE] * voxel
        contact = particles.contact_area_um2.sum()
        exposed = particles.surface_area_um2.sum()
        n_particles = len(particles)
        cracked = cracks.host.nunique()
        diameters = np.sort(particles.equivalent_diameter_um.to_numpy())
        rows = [
            ("particle_count", n_particles, "1", "voxels"),
            ("active_material_volume_fraction", phases[ACTIVE] / sample, "1", "voxels"),
            ("void_fraction", phases[VOID] / sample, "1", "voxels"),
            ("total_porosity", (phases[VOID] + phases[CRACK]) / sample, "1", "voxels"),
            ("void_count", int((objects[objects.kind.isin(["pore", "interfacial_void"])].voxels > 0).sum()),
             "1", "voxels"),
            ("interfacial_void_count", int((objects[objects.kind == "interfacial_void"].voxels > 0).sum()),
             "1", "voxels"),
            ("contact_area", contact, "µm²", "analytic"),
            ("active_surface_area", exposed, "µm²", "analytic"),
            ("contact_fraction", contact / exposed if exposed else np.nan, "1", "analytic"),
            ("specific_interface_area", contact / (sample * voxel), "µm⁻¹", "analytic"),
            ("crack_surface_area", cracks.midsurface_area_um2.sum(), "µm²", "analytic"),
            ("crack_density", cracks.midsurface_area_um2.sum() / am_volume if am_volume else np.nan,
             "µm⁻¹", "analytic"),
            ("crack_volume_fraction", phases[CRACK] / (phases[ACTIVE] + phases[CRACK]), "1", "voxels"),
            ("crack_count", len(cracks), "1", "voxels"),
            ("cracked_particle_fraction", cracked / n_particles if n_particles else np.nan, "1", "voxels"),
            ("cracks_per_particle", len(cracks) / n_particles if n_particles else np.nan, "1", "voxels"),
        ]
        for q in (10, 50, 90):
            value = np.percentile(diameters, q) if len(diameters) else np.nan
            rows.append((f"particle_d{q}", value, "µm", "voxels"))
        return metric_rows(rows), objects

    def _objects(self, counts, surf, crack_area, voxel):
        import pandas as pd

        rows = []
        for label, p in self.particles:
            n = int(counts["particles"][label])
            rows.append({"kind": "particle", "label": label, "host": 0, "voxels": n,
                         "volume_um3": n * voxel, "equivalent_diameter_um": (6 * n * voxel / np.pi) ** (1 / 3),
                         "analytic_volume_um3": p.volume, "centre_z": p.centre[0], "centre_y": p.centre[1],
                         "centre_x": p.centre[2], "radius_um": p.radius, "sphere": p.is_sphere})
        table = pd.DataFrame(rows)
        table = table.merge(surf, on="label", how="left")
        crack_rows = [{"kind": "crack", "label": label, "host": host,
                       "voxels": int(counts["cracks"][label]),
                       "volume_um3": int(counts["cracks"][label]) * voxel}
                      for label, _, host in self.cracks]
        cracks = pd.DataFrame(crack_rows, columns=["kind", "label", "host", "voxels", "volume_um3"])
        cracks = cracks.merge(crack_area, on="label", how="left")
        void_rows = [{"kind": "interfacial_void" if v <= self.n_shells else "pore", "label": v,
                      "voxels": int(counts["voids"][v]), "volume_um3": int(counts["voids"][v]) * voxel}
                     for v in range(1, self.n_labels["voids"] + 1)]
        return pd.concat([table, cracks, pd.DataFrame(void_rows)], ignore_index=True)
