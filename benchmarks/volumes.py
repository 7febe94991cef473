"""Benchmark volumes: a cathode phantom tile, mirrored out to any size, written lazily to OME-Zarr.

Generating a phantom costs about 5 s per million voxels here (the exact
volumes of the quadrature), so a 1024³ phantom would take an hour and a half.
Larger volumes are therefore the tile repeated with every other copy
mirrored along each axis: the grey values stay continuous across the seams,
particles cut by a tile face join their mirror image, and every volume
fraction and every area per volume is exactly the tile's. The mirrored
volume is a lazy Dask array written chunk by chunk, never held in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPACING = 0.5  # µm
SEED = 1
CHUNK = 128

#: truth rows that are fractions or densities, so the same for any number of mirrored tiles
INTENSIVE = ("void_fraction", "total_porosity", "active_material_volume_fraction", "contact_fraction",
             "crack_volume_fraction", "specific_interface_area", "crack_density")
#: truth rows that grow with the volume
EXTENSIVE = ("contact_area", "active_surface_area", "crack_surface_area")


def tile(cache: Path, size: int) -> Path:
    """The phantom tile (``size``³ voxels at 0.5 µm) saved with its truth; generated once per cache."""
    from ssbimage.synth import composite_cathode, save_phantom

    folder = Path(cache) / f"tile{size}"
    if not (folder / "truth.csv").exists():
        phantom = composite_cathode((size,) * 3, SPACING, seed=SEED, chunks=min(CHUNK, size))
        save_phantom(phantom, folder, overwrite=True)
    return folder


def thresholds(tile_folder: Path) -> tuple[float, float]:
    """Grey thresholds void|SE and SE|AM: midpoints between the phases' median grey values in the tile.

    Both pipelines get the same thresholds, so the comparison is of what
    follows the thresholding; ssbimage's own multi-Otsu and classifier are
    measured in docs/accuracy.md.
    """
    import zarr

    cached = tile_folder / "thresholds.json"
    if cached.exists():
        return tuple(json.loads(cached.read_text()))
    image = zarr.open_array(str(tile_folder / "image.ome.zarr" / "0"), mode="r")[...]
    phases = zarr.open_array(str(tile_folder / "image.ome.zarr" / "labels" / "phases" / "0"), mode="r")[...]
    void, electrolyte, active = (float(np.median(image[np.isin(phases, codes)])) for codes in ((3, 4), (1,), (2,)))
    found = ((void + electrolyte) / 2, (electrolyte + active) / 2)
    cached.write_text(json.dumps(found))
    return found


def classifier(cache: Path, tile_size: int) -> Path:
    """A ``PixelClassifier()`` trained on simulated strokes of another phantom (seed 2, at most 128³),
    saved once per cache: the accurate way to the phase map (docs/accuracy.md), for ``ours-classifier``."""
    from ssbimage.segment import PixelClassifier
    from ssbimage.synth import composite_cathode, simulate_annotations

    size = min(tile_size, 128)
    path = Path(cache) / f"classifier{size}.joblib"
    if not path.exists():
        phantom = composite_cathode((size,) * 3, SPACING, seed=SEED + 1, chunks=min(CHUNK, size))
        trained = PixelClassifier().fit(phantom.image.data, simulate_annotations(phantom.phases.data))
        trained.save(path.with_suffix(".part"))
        path.with_suffix(".part").replace(path)
    return path


def truth(tile_folder: Path, copies: int) -> dict:
    """Truth of the mirrored volume: the tile's intensive rows, extensive ones × copies."""
    import pandas as pd

    table = pd.read_csv(tile_folder / "truth.csv").set_index("metric").value
    found = {m: float(table[m]) for m in INTENSIVE if m in table}
    found.update({m: float(table[m]) * copies for m in EXTENSIVE if m in table})
    if copies == 1:
        found["particle_count"] = float(table["particle_count"])
    return found


def _saved(image, path: Path, name: str) -> Path:
    """Write the lazy ``image`` to the OME-Zarr ``path`` unless it is there (once per cache)."""
    from ssbimage.io import save_ome_zarr
    from ssbimage.volume import Volume

    if not (path / "zarr.json").exists():
        volume = Volume.from_array(image.rechunk(CHUNK), spacing=SPACING, name=name)
        save_ome_zarr(volume, path, levels=1, overwrite=True)
    return path


def mirrored(cache: Path, tile_folder: Path, size: int) -> Path:
    """OME-Zarr image of ``size``³ voxels tiled from the phantom tile (written once per cache)."""
    import dask.array as da

    source = tile_folder / "image.ome.zarr"
    image = da.from_zarr(str(source / "0"))
    n = image.shape[0]
    if size == n:
        return source
    if size % n:
        raise ValueError(f"volume size {size} is not a multiple of the tile size {n}")
    copies = size // n
    blocks = [[[_mirror(image, (i, j, k)) for k in range(copies)] for j in range(copies)] for i in range(copies)]
    return _saved(da.block(blocks), Path(cache) / f"cathode{size}.ome.zarr", f"cathode{size}")


def corner(cache: Path, tile_folder: Path, size: int, source: Path | None = None) -> Path:
    """OME-Zarr image of the first ``size``³ voxels of the tile, or of the OME-Zarr image ``source``
    (written once per cache)."""
    import dask.array as da

    source = Path(source) if source is not None else tile_folder / "image.ome.zarr"
    image = da.from_zarr(str(source / "0"))[:size, :size, :size]
    name = f"corner{size}" if source == tile_folder / "image.ome.zarr" else f"corner{size}-of-{source.name.split('.')[0]}"
    return _saved(image, Path(cache) / f"{name}.ome.zarr", name)


def _mirror(image, index):
    """The tile, flipped along each axis where its position on that axis is odd."""
    return image[tuple(slice(None, None, -1) if i % 2 else slice(None) for i in index)]
