"""SEM/EDS cross-section phantom: BSE image and element count maps with known interdiffusion."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.special import erfc

from .._spacing import check_spacing
from ..io import SemEds
from ._placement import place_spheres, radii_for_volume
from ._scene import ACTIVE, CRACK, ELECTROLYTE, VOID
from ._truth import metric_rows

__all__ = ["sem_eds", "SemEdsPhantom", "COMPOSITIONS"]

# Mean EDS counts per pixel of each element in a pure phase (NMC622 cathode;
# argyrodite Li6PS5Cl or garnet LLZO electrolyte). Li is invisible to EDS.
COMPOSITIONS = {
    "cathode": {"Ni": 30.0, "Co": 10.0, "Mn": 10.0, "O": 40.0},
    "sulfide": {"P": 12.0, "S": 45.0, "Cl": 9.0},
    "oxide": {"La": 30.0, "Zr": 18.0, "O": 50.0},
}
# BSE brightness (mean atomic number) per phase, relative
BSE = {"cathode": 0.8, "sulfide": 0.45, "oxide": 0.7, "void": 0.05}
# 10–90 % distance of an erfc profile is 2 × 1.2816 σ
_Z90 = 1.2815515655446004


@dataclasses.dataclass(frozen=True, eq=False)
class SemEdsPhantom:
    """A synthetic SEM/EDS cross-section with its ground truth.

    Attributes
    ----------
    maps : SemEds
        ``"SEM"`` (BSE-like image, uint16) and one Poisson count map per element.
    phases : (Y, X) uint8 ndarray
        1 electrolyte, 2 active material, 3 pore, 4 crack (pixel centres).
    particles : (Y, X) uint32 ndarray
        Particle labels (cracks included in their particle).
    cathode_fraction : (Y, X) float ndarray
        Noise-free share of cathode composition at each pixel (1 inside a
        particle, falling to 0 across the interdiffusion zone).
    truth : pandas.DataFrame
        ``interdiffusion_width`` (µm, 10–90 % of the composition profile
        across the interface), ``particle_count``, ``active_area_fraction``,
        ``void_area_fraction``, ``crack_count``, ``cracked_particle_fraction``.
    """

    maps: SemEds
    phases: np.ndarray
    particles: np.ndarray
    cathode_fraction: np.ndarray
    truth: pd.DataFrame
    params: dict

    def truth_value(self, metric: str) -> float:
        return float(self.truth.loc[self.truth.metric == metric, "value"].iloc[0])


def sem_eds(
    shape=(512, 512),
    pixel_size: float = 0.05,
    *,
    electrolyte: str = "sulfide",
    separator_fraction: float = 0.25,
    active_fraction: float = 0.45,
    radius_range=(1.5, 4.0),
    interdiffusion_width: float = 0.4,
    n_pores: int = 12,
    pore_radius_range=(0.15, 0.5),
    cracked_fraction: float = 0.3,
    crack_width: float = 0.1,
    dwell: float = 1.0,
    sem_noise: float = 0.03,
    seed: int = 0,
) -> SemEdsPhantom:
    """A polished cross-section: composite cathode above an electrolyte separator.

    Particles are discs of NMC in the electrolyte (the bottom
    ``separator_fraction`` of the image is pure electrolyte). Across every
    particle boundary the composition changes from cathode to electrolyte with
    an erfc profile whose 10–90 % width is ``interdiffusion_width`` µm
    (measured along the normal of the boundary). Cracks are straight dark
    lines through some particles; pores are dark discs in the electrolyte.

    Parameters
    ----------
    shape : (int, int)
        Image size in pixels (y, x).
    pixel_size : float
        Pixel size in µm.
    electrolyte : {"sulfide", "oxide"}
        Argyrodite (P, S, Cl) or garnet (La, Zr, O) elements.
    interdiffusion_width : float
        True 10–90 % width of the interdiffusion zone, µm.
    dwell : float
        Scales the mean counts (longer dwell, less Poisson noise).
    sem_noise : float
        Gaussian noise σ of the BSE image relative to its full scale.
    seed : int
        Same seed, same maps.

    Examples
    --------
    >>> ph = sem_eds((64, 64), 0.1, seed=1)
    >>> sorted(ph.maps.elements)
    ['Cl', 'Co', 'Mn', 'Ni', 'O', 'P', 'S']
    """
    spacing = check_spacing(pixel_size, 2)
    rng = np.random.default_rng(seed)
    ny, nx = shape
    size = np.array([ny, nx]) * np.asarray(spacing)
    top = size[0] * (1 - separator_fraction)  # y below this is the composite
    radii = radii_for_volume(lambda: rng.uniform(*radius_range), 1.3 * active_fraction * top * size[1],
                             dims=2)
    # discs as spheres in a thin slab: place_spheres needs 3D, use z = 0
    centres, radii = place_spheres(rng, radii, [0, 0, 0], [0, top - radius_range[0], size[1]],
                                   clearance=2 * interdiffusion_width)
    area = np.cumsum(np.pi * radii**2)
    keep = int(np.searchsorted(area, active_fraction * top * size[1])) + 1
    centres, radii = centres[:keep, 1:], radii[:keep]
    yy, xx = np.meshgrid((np.arange(ny) + 0.5) * spacing[0], (np.arange(nx) + 0.5) * spacing[1],
                         indexing="ij")
    # exact signed distance to the union of (non-overlapping) discs: < 0 inside
    signed = np.full(shape, np.inf)
    owner = np.zeros(shape, np.uint32)
    for k, (c, r) in enumerate(zip(centres, radii), start=1):
        d = np.hypot(yy - c[0], xx - c[1]) - r
        closer = d < signed
        signed[closer], owner[closer] = d[closer], k
    phases = np.where(signed <= 0, ACTIVE, ELECTROLYTE).astype(np.uint8)
    particles = np.where(signed <= 0, owner, 0).astype(np.uint32)
    cracks, cracked = 0, set()
    for k, (c, r) in enumerate(zip(centres, radii), start=1):
        if rng.random() >= cracked_fraction:
            continue
        angle = rng.uniform(0, np.pi)
        normal = np.array([np.cos(angle), np.sin(angle)])
        offset = rng.uniform(-0.4, 0.4) * r
        line = np.abs((yy - c[0]) * normal[0] + (xx - c[1]) * normal[1] - offset) <= crack_width / 2
        mask = line & (particles == k)
        if mask.any():
            phases[mask] = CRACK
            cracks += 1
            cracked.add(k)
    pore_c, pore_r = place_spheres(
        rng, rng.uniform(*pore_radius_range, n_pores), [0, 0, 0], [0, size[0], size[1]],
        obstacles=(np.column_stack([np.zeros(len(radii)), centres]), radii),
        clearance=2 * interdiffusion_width + 0.2,
    )
    for c, r in zip(pore_c[:, 1:], pore_r):
        phases[(np.hypot(yy - c[0], xx - c[1]) <= r) & (phases == ELECTROLYTE)] = VOID
    sigma = interdiffusion_width / (2 * _Z90)
    cathode_share = 0.5 * erfc(signed / (np.sqrt(2) * sigma)) if sigma > 0 else (signed <= 0) * 1.0
    solid = np.isin(phases, (ACTIVE, ELECTROLYTE))
    se = COMPOSITIONS[electrolyte]
    maps = {}
    for element in dict.fromkeys(list(COMPOSITIONS["cathode"]) + list(se)):
        mean = COMPOSITIONS["cathode"].get(element, 0.0) * cathode_share + \
            se.get(element, 0.0) * (1 - cathode_share)
        maps[element] = rng.poisson(dwell * mean * solid).astype(np.uint16)
    bse = BSE["cathode"] * cathode_share + BSE[electrolyte] * (1 - cathode_share)
    bse = np.where(solid, bse, BSE["void"])
    bse = ndimage.gaussian_filter(bse, 1.0) + rng.normal(0, sem_noise, shape)
    sem = np.clip(bse * 50000 + 2000, 0, 65535).astype(np.uint16)
    container = SemEds({"SEM": sem, **maps}, spacing, "µm", None,
                       {"phantom": "sem_eds", "electrolyte": electrolyte})
    n_particles = int(len(np.unique(particles)) - (0 in particles))
    truth = metric_rows([
        ("interdiffusion_width", interdiffusion_width, "µm", "analytic"),
        ("particle_count", n_particles, "1", "voxels"),
        ("active_area_fraction", float(np.mean(phases == ACTIVE)), "1", "voxels"),
        ("void_area_fraction", float(np.mean(phases == VOID)), "1", "voxels"),
        ("crack_count", cracks, "1", "voxels"),
        ("cracked_particle_fraction", len(cracked) / n_particles if n_particles else np.nan, "1",
         "voxels"),
    ])
    params = dict(shape=tuple(shape), pixel_size=spacing, electrolyte=electrolyte,
                  interdiffusion_width=interdiffusion_width, seed=seed)
    return SemEdsPhantom(container, phases, particles, cathode_share, truth, params)
