"""XCT image formation: attenuation per phase, PSF blur, artefacts, noise.

Every step is a pure function of the phase map and of global voxel
coordinates, so a chunk of the image is bit-identical to the same region
of the whole image: the blur uses a halo of ``ceil(truncate * sigma)``
voxels, rings and cupping depend on the position in the scan, and the noise
comes from a counter-based hash of (seed, global voxel index) rather than a
sequential random stream.
"""

from __future__ import annotations

import dataclasses
import math
import uuid

import dask.array as da
import numpy as np
from scipy import ndimage

from ._scene import ACTIVE, CRACK, ELECTROLYTE, LITHIUM, OUTSIDE, VOID

# Relative linear attenuation (dark to bright, DESIGN.md): void ≈ Li < sulfide
# SE < oxide SE (LLZO) < cathode active material. Air outside the sample.
SULFIDE_ATTENUATION = {OUTSIDE: 0.02, ELECTROLYTE: 0.45, ACTIVE: 0.85, VOID: 0.04, CRACK: 0.04,
                       LITHIUM: 0.12}
OXIDE_ATTENUATION = {**SULFIDE_ATTENUATION, ELECTROLYTE: 0.65}


@dataclasses.dataclass(frozen=True)
class XCTModel:
    """How a phase map becomes a uint16 tomogram; every effect can be switched off.

    Parameters
    ----------
    attenuation : dict of int to float
        Relative attenuation per phase code.
    blur_sigma : float
        Gaussian point-spread function σ in voxels (partial-volume blur); 0 = off.
    cnr : float or None
        Contrast-to-noise ratio between solid electrolyte and void:
        (grey_SE − grey_void) / noise σ at the electrolyte grey level. None = no noise.
    poisson_share : float
        Share of the noise variance at the electrolyte level that is
        signal-dependent (photon) noise, its variance proportional to the grey
        value (the Gaussian limit of Poisson statistics, apt at XCT count
        levels); the rest is signal-independent Gaussian noise.
    ring_amplitude : float
        Peak ring-artefact amplitude as a fraction of the SE–void contrast; 0 = off.
    n_rings : int
        Number of rings (concentric about the rotation axis, the z axis
        through the centre of the y–x plane).
    cupping : float
        Beam-hardening cupping: relative darkening at the rotation axis,
        falling quadratically to zero at the corners of the slice; 0 = off.
    grey_scale, grey_offset : float
        uint16 grey value = grey_offset + grey_scale × attenuation (before drift).
    gain, offset : float
        Scan-to-scan grey-level drift: grey → gain × grey + offset.
    seed : int
        Seed of the noise and ring positions.
    """

    attenuation: dict = dataclasses.field(default_factory=lambda: dict(SULFIDE_ATTENUATION))
    blur_sigma: float = 1.0
    cnr: float | None = 8.0
    poisson_share: float = 0.5
    ring_amplitude: float = 0.15
    n_rings: int = 6
    cupping: float = 0.04
    grey_scale: float = 40000.0
    grey_offset: float = 4000.0
    gain: float = 1.0
    offset: float = 0.0
    seed: int = 0

    @classmethod
    def for_electrolyte(cls, electrolyte: str = "sulfide", **changes) -> XCTModel:
        """Default model for a sulfide (argyrodite) or oxide (LLZO, brighter) electrolyte."""
        table = {"sulfide": SULFIDE_ATTENUATION, "oxide": OXIDE_ATTENUATION}
        if electrolyte not in table:
            raise ValueError(f"electrolyte must be 'sulfide' or 'oxide', got {electrolyte!r}")
        return cls(attenuation=dict(table[electrolyte]), **changes)

    def grey(self, phase: int) -> float:
        """Noise-free grey value of a large region of one phase (no blur, no artefacts)."""
        return self.gain * (self.grey_offset + self.grey_scale * self.attenuation[phase]) + self.offset

    @property
    def noise_sigma(self) -> float:
        """Noise σ at the electrolyte grey level, in grey values (0 without noise)."""
        if not self.cnr:
            return 0.0
        return abs(self.grey(ELECTROLYTE) - self.grey(VOID)) / self.cnr


def _lookup(model: XCTModel) -> np.ndarray:
    lut = np.zeros(256, np.float32)
    for phase, mu in model.attenuation.items():
        lut[phase] = mu
    return lut


def _halo(model: XCTModel) -> int:
    """Voxels of context the PSF needs on each side: ceil(truncate × σ)."""
    return math.ceil(4.0 * model.blur_sigma) if model.blur_sigma > 0 else 0


def _blur(attenuation: np.ndarray, model: XCTModel) -> np.ndarray:
    if model.blur_sigma <= 0:
        return attenuation
    return ndimage.gaussian_filter(attenuation, model.blur_sigma, mode="nearest", truncate=4.0)


def xct_image(phases: da.Array, model: XCTModel) -> da.Array:
    """Lazy uint16 tomogram of a lazy phase map (same chunks).

    The blur takes its halo from the neighbouring chunks (``map_overlap``);
    beyond the volume the phase map is continued by its edge values.
    """
    lut = _lookup(model)
    attenuation = phases.map_blocks(lambda b: lut[b], dtype=np.float32)
    if _halo(model):
        attenuation = attenuation.map_overlap(_blur, depth=_halo(model), boundary="nearest",
                                              dtype=np.float32, model=model)
    shape = phases.shape
    return attenuation.map_blocks(_finish, dtype=np.uint16, model=model, full_shape=shape,
                                  rings=_rings(model, shape))


def scene_image(scene, shape, spacing, chunks, model: XCTModel) -> da.Array:
    """Lazy uint16 tomogram of a scene, each chunk rendered on its own.

    A chunk rasterises its own region grown by the PSF halo, so it depends on
    no other chunk (the task graph stays one task per chunk, and one chunk can
    be read without computing its neighbours); beyond the volume the halo
    shows the geometry as it continues, as a real scan's field of view would.
    """
    lut, halo, rings = _lookup(model), _halo(model), _rings(model, shape)

    def render(_, block_info=None):
        loc = block_info[0]["array-location"]
        start = [a - halo for a, _ in loc]
        size = [b - a + 2 * halo for a, b in loc]
        phases = scene.rasterize(start, size, spacing)["phases"]
        blurred = _blur(lut[phases], model)
        core = blurred[tuple(slice(halo, n - halo) for n in size)]
        return _finish(core, model, shape, rings, block_info=block_info)

    template = da.empty(shape, chunks=chunks, dtype=np.uint8)
    return template.map_blocks(render, dtype=np.uint16, name=f"synth-image-{uuid.uuid4().hex}")


def _rings(model: XCTModel, shape):
    if not model.ring_amplitude or not model.n_rings:
        return np.zeros((0, 2))
    rng = np.random.default_rng([model.seed, 7])
    max_radius = 0.5 * math.hypot(shape[-2], shape[-1])
    radii = rng.uniform(3.0, max_radius, model.n_rings)
    signs = rng.choice([-1.0, 1.0], model.n_rings) * rng.uniform(0.5, 1.0, model.n_rings)
    return np.stack([radii, signs], axis=1)


def _finish(block, model: XCTModel, full_shape, rings, block_info=None):
    """Grey values of one block; done a few planes at a time to bound temporaries."""
    (z0, _), (y0, _), (x0, _) = block_info[0]["array-location"]
    out = np.empty(block.shape, np.uint16)
    y = np.arange(y0, y0 + block.shape[1])[:, None]
    x = np.arange(x0, x0 + block.shape[2])[None, :]
    cy, cx = (full_shape[-2] - 1) / 2, (full_shape[-1] - 1) / 2
    radius = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    shading = 1.0 - model.cupping * (1.0 - (radius / (math.hypot(cy, cx) or 1.0)) ** 2)
    contrast = model.grey_scale * abs(model.attenuation[ELECTROLYTE] - model.attenuation[VOID])
    ring_offset = np.zeros_like(radius)
    for ring_radius, sign in rings:
        ring_offset += sign * model.ring_amplitude * contrast * np.exp(-0.5 * (radius - ring_radius) ** 2)
    plane_index = (y.astype(np.uint64) * np.uint64(full_shape[2]) + x.astype(np.uint64))
    if model.cnr:
        sigma_se = contrast / model.cnr
        se_grey = model.grey_offset + model.grey_scale * model.attenuation[ELECTROLYTE]
        photon = model.poisson_share * sigma_se**2 / se_grey  # variance per grey value
        read = (1.0 - model.poisson_share) * sigma_se**2
    for k in range(block.shape[0]):
        grey = model.grey_offset + model.grey_scale * (block[k] * shading) + ring_offset
        if model.cnr:
            index = np.uint64((z0 + k) * full_shape[1] * full_shape[2]) + plane_index
            grey += np.sqrt(photon * np.clip(grey, 0, None) + read) * hashed_normal(index, model.seed)
        out[k] = np.clip(np.rint(model.gain * grey + model.offset), 0, 65535)
    return out


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hashed_normal(index: np.ndarray, seed: int) -> np.ndarray:
    """Standard normal deviates that depend only on (seed, index): chunk-invariant noise."""
    key = _splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + np.uint64(0x5851F42D4C957F2D))
    a = _splitmix64(index ^ key)
    b = _splitmix64(a)
    scale = 1.0 / 2.0**53
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = (b >> np.uint64(11)).astype(np.float64) * scale
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
