"""Make `cathode_demo.ome.tif`, the small volume `make demo` reads.

A stand-in until `ssbimage.synth` provides phantoms with full ground truth:
bright active-material spheres in a mid-grey solid-electrolyte matrix with
dark pores, Gaussian blur (partial volume) and Gaussian noise; 96³ voxels of
0.5 µm. Deterministic (seed 7). Run: python sample_volumes/make_demo_volume.py
"""

from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage

SHAPE, SPACING_UM, SEED = (96, 96, 96), 0.5, 7
GREY = {"void": 8000, "electrolyte": 20000, "active": 36000}


def phase_map(rng):
    zz, yy, xx = np.indices(SHAPE, dtype=np.float32)
    phases = np.ones(SHAPE, np.uint8)  # 1 = solid electrolyte
    for _ in range(450):  # active-material particles, radius 4-9 voxels (2-4.5 µm)
        c, r = rng.uniform(0, 96, 3), rng.uniform(4, 9)
        phases[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r] = 2
    for _ in range(900):  # pores in the electrolyte, radius 1.5-3 voxels
        c, r = rng.uniform(0, 96, 3), rng.uniform(1.5, 3)
        pore = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        phases[pore & (phases == 1)] = 3
    return phases


def main(out=Path(__file__).with_name("cathode_demo.ome.tif")):
    rng = np.random.default_rng(SEED)
    phases = phase_map(rng)
    grey = np.choose(phases - 1, [GREY["electrolyte"], GREY["active"], GREY["void"]]).astype(np.float32)
    grey = ndimage.gaussian_filter(grey, 1.0) + rng.normal(0, 2500, SHAPE)
    image = np.clip(grey, 0, 65535).astype(np.uint16)
    tifffile.imwrite(
        out, image, ome=True, compression="zlib", photometric="minisblack",
        metadata={"axes": "ZYX", "Name": "cathode_demo",
                  **{f"PhysicalSize{a}": SPACING_UM for a in "ZYX"},
                  **{f"PhysicalSize{a}Unit": "µm" for a in "ZYX"}},
    )
    print(f"wrote {out}: {image.shape} {image.dtype}, phase fractions "
          + ", ".join(f"{n}={np.mean(phases == k):.3f}" for k, n in
                      [(1, "electrolyte"), (2, "active"), (3, "void")]))


if __name__ == "__main__":
    main()
