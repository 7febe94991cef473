"""Lithium-metal anode phantom: Li | solid electrolyte (| cathode) with dendrites."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .._spacing import check_spacing
from ._cathode import cathode_paints, plan_cathode
from ._phantom import Phantom, make_phantom
from ._scene import ACTIVE, CRACK, ELECTROLYTE, LITHIUM, VOID, Paint, Scene
from ._shapes import Capsule, Ellipsoid, Sheet, Slab
from ._truth import box_bounds, metric_rows, particle_surfaces, voxel_counts
from ._xct import XCTModel

__all__ = ["anode_interface"]


@dataclasses.dataclass(frozen=True)
class Segment:
    start: np.ndarray
    end: np.ndarray
    radius: float
    t0: float  # growth time at start and end: 0 at the Li surface, 1 at full length
    t1: float
    branch_node: bool = False  # a side branch leaves at this segment's end

    def grown(self, g: float):
        """The part of this segment grown by time g, or None."""
        if self.t0 > g:
            return None
        if self.t1 <= g or self.t1 == self.t0:
            return self
        f = (g - self.t0) / (self.t1 - self.t0)
        return dataclasses.replace(self, end=self.start + f * (self.end - self.start), t1=g,
                                   branch_node=False)


def _grow_tree(rng, root, z_li, z_tip, radius, lateral_lo, lateral_hi, branch_probability,
               plane_normal=None):
    """Segments of one dendrite: a trunk from the Li surface to ``z_tip`` plus side branches."""
    height = z_tip - z_li

    def constrain(d):
        if plane_normal is not None:
            d = d - (d @ plane_normal) * plane_normal
        return d / np.linalg.norm(d)

    def walk(start, direction, t_start, t_end, r, allow_branches):
        segments, p, t, d = [], start.copy(), t_start, direction
        while t < t_end - 1e-9:
            d = constrain(d + rng.normal(0, 0.35, 3) * np.array([0.3, 1, 1]))
            if d[0] < 0.35:  # keep growing away from the anode
                d = constrain(d + np.array([0.6, 0, 0]))
            length = rng.uniform(1.5, 3.0)
            q = p + length * d
            q[1:] = np.clip(q[1:], lateral_lo + r, lateral_hi - r)
            dt = np.linalg.norm(q - p) / height
            if t + dt > t_end:
                q = p + (q - p) * (t_end - t) / dt
                dt = t_end - t
            branch = allow_branches and t + dt < t_end - 0.1 and rng.random() < branch_probability
            segments.append(Segment(p, q, r, t, t + dt, branch))
            if branch:
                side = constrain(np.array([0.5, *rng.normal(0, 1, 2)]))
                span = rng.uniform(0.2, 0.5) * (t_end - t - dt)
                segments += walk(q, side, t + dt, t + dt + span, 0.75 * r, False)
            p, t = q, t + dt
        return segments

    # the root starts inside the lithium so the filament is connected to it
    stub = Segment(np.array([z_li - radius, *root]), np.array([z_li, *root]), radius, -1.0, 0.0)
    trunk_length_scale = (z_tip - z_li) / height
    return [stub] + walk(np.array([z_li, *root]), constrain(np.array([1.0, 0, 0])), 0.0,
                         trunk_length_scale, radius, True)


@dataclasses.dataclass(frozen=True)
class AnodePlan:
    z_li: float
    z_top: float
    trees: list            # list of list[Segment]
    se_cracks: list        # Sheet per electrolyte crack
    interface_voids: list  # Ellipsoid at full size
    pores: list            # (centre, radius)
    cathode: object        # CathodePlan or None


def plan_anode(shape, spacing, *, lithium_thickness, cathode_thickness, n_dendrites,
               dendrite_radius_range, penetration_range, branch_probability, n_crack_dendrites,
               n_interface_voids, interface_void_size, n_pores, pore_radius_range, seed):
    rng = np.random.default_rng(seed)
    spacing = np.asarray(spacing, float)
    lo, hi = box_bounds(shape, spacing)
    voxel = float(spacing.min())
    z_li = lo[0] + lithium_thickness
    z_top = hi[0] - cathode_thickness
    thickness = z_top - z_li
    if thickness <= 4 * voxel:
        raise ValueError("the electrolyte layer is too thin: lower lithium_thickness/cathode_thickness")
    cells = int(np.ceil(np.sqrt(max(n_dendrites, 1))))
    size = (hi[1:] - lo[1:]) / cells
    chosen = rng.choice(cells * cells, size=n_dendrites, replace=False) if n_dendrites else []
    trees, se_cracks = [], []
    for k, cell in enumerate(chosen):
        cell_lo = lo[1:] + size * np.array(divmod(int(cell), cells))
        cell_hi = cell_lo + size
        inner_lo, inner_hi = cell_lo + 2 * voxel, cell_hi - 2 * voxel  # gap between dendrites
        radius = rng.uniform(*dendrite_radius_range)
        root = rng.uniform(inner_lo + 0.3 * size, inner_hi - 0.3 * size)
        z_tip = z_li + rng.uniform(*penetration_range) * thickness
        normal = None
        if k < n_crack_dendrites:  # this one grows along a crack in the electrolyte
            angle = rng.uniform(0, np.pi)
            normal = np.array([0.0, np.cos(angle), np.sin(angle)])
            height = min(0.9 * (z_tip - z_li), 0.45 * float(size.min()) - 2 * voxel)
            se_cracks.append(Sheet(np.array([z_li, *root]), normal, 0.5 * voxel * rng.uniform(1.5, 2.5),
                                   height, half_plane=np.array([1.0, 0.0, 0.0])))
            radius = max(radius, se_cracks[-1].half_width + 0.5 * voxel)
        trees.append(_grow_tree(rng, root, z_li, z_tip, radius, inner_lo, inner_hi,
                                branch_probability, normal))
    segments = [s for tree in trees for s in tree]
    clearance = 2 * voxel
    voids = []
    for _ in range(200 * max(n_interface_voids, 1)):
        if len(voids) >= n_interface_voids:
            break
        a, b = rng.uniform(*interface_void_size, 2)
        t = rng.uniform(0.3, 0.6) * min(a, b)
        centre = np.array([z_li + rng.uniform(-0.3, 0.3) * t, *rng.uniform(lo[1:], hi[1:])])
        angle = rng.uniform(0, np.pi)
        rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
        void = Ellipsoid(centre, np.array([t, a, b]), rotation)
        reach = max(a, b) + clearance
        if np.all(_gap_to_segments(centre, segments) > reach) and \
                all(np.linalg.norm(centre - v.centre) > reach + v.radius for v in voids):
            voids.append(void)
    pores = []
    for _ in range(200 * max(n_pores, 1)):
        if len(pores) >= n_pores:
            break
        r = rng.uniform(*pore_radius_range)
        centre = rng.uniform([z_li + r + clearance, *lo[1:]], [z_top - r - clearance, *hi[1:]])
        if np.all(_gap_to_segments(centre, segments) > r + clearance) and \
                all(np.linalg.norm(centre - c) > r + rc + clearance for c, rc in pores) and \
                all(_distance_to_sheet(centre, c) > r + clearance for c in se_cracks):
            pores.append((centre, r))
    cathode = None
    if cathode_thickness > 0:
        region = (np.array([z_top, lo[1], lo[2]]), hi)
        cathode = plan_cathode(shape, spacing, active_fraction=0.45, radius_range=(2.0, 6.0),
                               radius_median=3.5, ellipsoid_fraction=0.25, max_overlap=0.15,
                               porosity=0.0, pore_radius_range=(0.75, 1.0), contact_loss=0.0,
                               shell_thickness=2 * voxel, shell_angle_range=(0.5, 1.0),
                               cracked_fraction=0.0, crack_width_range=(1.0, 2.0), seed=seed + 1,
                               region=(region[0] + np.array([6.0, 0, 0]), region[1]))
    return AnodePlan(z_li, z_top, trees, se_cracks, voids, pores, cathode)


def _gap_to_segments(point, segments) -> np.ndarray:
    """Distance from a point to the surface of each capsule segment (µm)."""
    if not segments:
        return np.array([np.inf])
    start = np.array([s.start for s in segments])
    axis = np.array([s.end for s in segments]) - start
    length2 = np.einsum("ij,ij->i", axis, axis)
    t = np.clip(np.einsum("ij,ij->i", point - start, axis) / np.where(length2 > 0, length2, 1), 0, 1)
    nearest = start + t[:, None] * axis
    return np.linalg.norm(point - nearest, axis=1) - np.array([s.radius for s in segments])


def _distance_to_sheet(point, sheet: Sheet) -> float:
    lo, hi = sheet.bbox()
    return float(np.linalg.norm(np.clip(point, lo, hi) - point))


def anode_interface(
    shape=(128, 128, 128),
    spacing=0.5,
    *,
    lithium_thickness: float = 12.0,
    cathode_thickness: float = 0.0,
    n_dendrites: int = 4,
    dendrite_radius_range=(0.6, 1.2),
    penetration_range=(0.25, 0.85),
    branch_probability: float = 0.25,
    n_crack_dendrites: int = 1,
    n_interface_voids: int = 5,
    interface_void_size=(2.0, 5.0),
    n_pores: int = 20,
    pore_radius_range=(0.75, 2.0),
    growth: float = 1.0,
    electrolyte: str = "sulfide",
    xct: XCTModel | None = None,
    shift=(0.0, 0.0, 0.0),
    chunks=64,
    seed: int = 0,
) -> Phantom:
    """A lithium-metal anode under a solid electrolyte, with dendrites and voids.

    The z axis is the cell's through-thickness direction: lithium metal fills
    the bottom ``lithium_thickness`` µm, the electrolyte lies above it, and with
    ``cathode_thickness > 0`` a composite cathode layer on top makes a full cell.

    Parameters
    ----------
    shape, spacing
        Volume size (voxels) and voxel size (µm).
    lithium_thickness : float
        Thickness of the Li metal layer, µm.
    cathode_thickness : float
        Thickness of an optional composite cathode layer on top, µm (0 = none).
    n_dendrites : int
        Number of dendrites, each a branching filament (a chain of capsules)
        that grows from the Li surface into the electrolyte, each in its own
        lateral cell so that no two touch.
    dendrite_radius_range : (float, float)
        Filament radius, µm (side branches are 75 % as thick).
    penetration_range : (float, float)
        Tip height above the Li surface as a fraction of the electrolyte thickness
        (1.0 would be a short circuit).
    branch_probability : float
        Chance that a side branch leaves at each trunk node.
    n_crack_dendrites : int
        How many of the dendrites grow along a crack in the electrolyte (a thin
        vertical half-disc rising from the Li surface).
    n_interface_voids : int
        Li-stripping voids: flat ellipsoids on the Li|SE interface, lateral
        semi-axes ``interface_void_size`` µm.
    n_pores : int
        Isolated pores in the electrolyte, clear of dendrites, cracks and the
        interface (they are not dendrites).
    growth : float
        0–1: how far the dendrites have grown (tips at ``growth`` × their full
        height) and how open the stripping voids are (50–100 % of full size).
    electrolyte, xct, shift, chunks, seed
        As for :func:`composite_cathode`.

    Returns
    -------
    Phantom
        ``truth`` lists ``dendrite_count``, ``dendrite_volume``, ``dendrite_length``,
        ``dendrite_branch_points``, ``dendrite_max_penetration``,
        ``electrolyte_thickness``, ``dendrite_penetration_fraction``,
        ``void_fraction``, ``interfacial_void_count``, ``pore_count``.

    Examples
    --------
    >>> ph = anode_interface((32, 32, 32), 0.5, lithium_thickness=4, n_dendrites=1, n_pores=2,
    ...                      n_interface_voids=1, seed=2)
    >>> ph.phases.shape
    (32, 32, 32)
    """
    spacing = check_spacing(spacing, 3)
    params = dict(shape=tuple(shape), spacing=spacing, lithium_thickness=lithium_thickness,
                  cathode_thickness=cathode_thickness, n_dendrites=n_dendrites,
                  dendrite_radius_range=tuple(dendrite_radius_range),
                  penetration_range=tuple(penetration_range), branch_probability=branch_probability,
                  n_crack_dendrites=n_crack_dendrites, n_interface_voids=n_interface_voids,
                  interface_void_size=tuple(interface_void_size), n_pores=n_pores,
                  pore_radius_range=tuple(pore_radius_range), seed=seed)
    plan = plan_anode(**params)
    g = float(np.clip(growth, 0.0, 1.0))
    lo, _ = box_bounds(shape, spacing)
    paints = [Paint(Slab(lo[0] - 1.0, plan.z_li), LITHIUM)]
    paints += [Paint(sheet, CRACK, "cracks", k + 1) for k, sheet in enumerate(plan.se_cracks)]
    grown_trees = []
    for k, tree in enumerate(plan.trees):
        grown = [s for s in (seg.grown(g) for seg in tree) if s is not None]
        grown_trees.append(grown)
        paints += [Paint(Capsule(s.start, s.end, s.radius), LITHIUM, "dendrites", k + 1,
                         where=(ELECTROLYTE, CRACK)) for s in grown]
    n_void = 0
    for void in plan.interface_voids:
        n_void += 1
        paints.append(Paint(void.scaled(0.5 + 0.5 * g), VOID, "voids", n_void,
                            where=(ELECTROLYTE, LITHIUM)))
    for centre, radius in plan.pores:
        n_void += 1
        paints.append(Paint(Ellipsoid.sphere(centre, radius), VOID, "voids", n_void))
    particles = []
    if plan.cathode is not None:
        more, particles, _, _ = cathode_paints(plan.cathode, 0.0)
        paints += [p for p in more if p.rule == "particle"]
    shift = np.asarray(shift, float)
    scene = Scene(paints).translated(shift)
    xct = xct or XCTModel.for_electrolyte(electrolyte, seed=seed)
    params.update(growth=g, electrolyte=electrolyte, shift=tuple(shift))
    truth = _AnodeTruth(plan, grown_trees, [(l, p.translated(shift)) for l, p in particles],
                        shift, len(plan.interface_voids))
    return make_phantom(scene, shape, spacing, chunks, xct, params, truth, "anode_interface")


@dataclasses.dataclass
class _AnodeTruth:
    plan: AnodePlan
    trees: list
    particles: list
    shift: np.ndarray
    n_interface_voids: int

    def __call__(self, phantom):
        spacing = np.asarray(phantom.spacing)
        voxel = float(np.prod(spacing))
        n_voids = len(self.plan.interface_voids) + len(self.plan.pores)
        counts = voxel_counts(phantom, {"dendrites": len(self.trees), "voids": n_voids,
                                        "cracks": len(self.plan.se_cracks),
                                        "particles": len(self.particles)})
        phases = counts["phases"]
        sample = phases[1:].sum()
        z_li = self.plan.z_li + self.shift[0]
        thickness = self.plan.z_top - self.plan.z_li
        lo, hi = box_bounds(phantom.shape, spacing)
        rows = []
        for k, tree in enumerate(self.trees):
            segments = [dataclasses.replace(s, start=s.start + self.shift, end=s.end + self.shift)
                        for s in tree]
            above = [_clip_above(s, z_li) for s in segments]
            above = [s for s in above if s is not None]
            tip = max((max(s.start[0], s.end[0]) + s.radius for s in above), default=z_li)
            rows.append({
                "kind": "dendrite", "label": k + 1, "voxels": int(counts["dendrites"][k + 1]),
                "volume_um3": int(counts["dendrites"][k + 1]) * voxel,
                "length_um": float(sum(np.linalg.norm(s.end - s.start) for s in above)),
                "branch_points": int(sum(s.branch_node for s in above)),
                "penetration_um": float(min(tip, hi[0]) - z_li),
            })
        dendrites = pd.DataFrame(rows, columns=["kind", "label", "voxels", "volume_um3", "length_um",
                                                "branch_points", "penetration_um"])
        present = dendrites[dendrites.voxels > 0]
        voids = pd.DataFrame([{
            "kind": "interfacial_void" if v <= self.n_interface_voids else "pore", "label": v,
            "voxels": int(counts["voids"][v]), "volume_um3": int(counts["voids"][v]) * voxel}
            for v in range(1, n_voids + 1)])
        penetration = float(present.penetration_um.max()) if len(present) else 0.0
        table = [
            ("dendrite_count", len(present), "1", "voxels"),
            ("dendrite_volume", present.volume_um3.sum(), "µm³", "voxels"),
            ("dendrite_length", present.length_um.sum(), "µm", "analytic"),
            ("dendrite_branch_points", int(present.branch_points.sum()), "1", "analytic"),
            ("dendrite_max_penetration", penetration, "µm", "analytic"),
            ("electrolyte_thickness", thickness, "µm", "analytic"),
            ("dendrite_penetration_fraction", penetration / thickness, "1", "analytic"),
            ("void_fraction", phases[VOID] / sample, "1", "voxels"),
            ("lithium_volume_fraction", phases[LITHIUM] / sample, "1", "voxels"),
            ("interfacial_void_count", int((voids.kind == "interfacial_void").mul(voids.voxels > 0).sum())
             if len(voids) else 0, "1", "voxels"),
            ("pore_count", int((voids.kind == "pore").mul(voids.voxels > 0).sum()) if len(voids) else 0,
             "1", "voxels"),
        ]
        objects = [dendrites, voids]
        if self.particles:
            surf = particle_surfaces(phantom.scene, self.particles, phantom.shape, spacing,
                                     0.5 * spacing.min())
            contact, exposed = surf.contact_area_um2.sum(), surf.surface_area_um2.sum()
            table += [("particle_count", int((counts["particles"][1:] > 0).sum()), "1", "voxels"),
                      ("active_material_volume_fraction", phases[ACTIVE] / sample, "1", "voxels"),
                      ("contact_area", contact, "µm²", "analytic"),
                      ("contact_fraction", contact / exposed if exposed else np.nan, "1", "analytic")]
            objects.append(surf.assign(kind="particle"))
        return metric_rows(table), pd.concat(objects, ignore_index=True)


def _clip_above(s: Segment, z0: float):
    """The part of a segment at or above z0 (the Li surface), or None."""
    a, b = s.start, s.end
    if a[0] >= z0 and b[0] >= z0:
        return s
    if a[0] < z0 and b[0] < z0:
        return None
    t = (z0 - a[0]) / (b[0] - a[0])
    cut = a + t * (b - a)
    return dataclasses.replace(s, start=cut) if a[0] < z0 else dataclasses.replace(s, end=cut)
