"""Writing phantoms with their ground truth: image, label images and tables."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from ..io import save_ome_zarr, save_ome_zarr_labels, save_tiff
from ..io._atomic import atomic_output
from ._phantom import Phantom
from ._sem_eds import SemEdsPhantom
from ._series import PhantomSeries

__all__ = ["save_phantom"]

PHASE_COLOURS = {0: (0, 0, 0, 0), 1: (70, 130, 180, 255), 2: (220, 60, 60, 255),
                 3: (255, 215, 0, 255), 4: (50, 205, 50, 255), 5: (186, 85, 211, 255)}


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def save_phantom(phantom, path: str | os.PathLike, *, format: str = "ome-zarr",
                 overwrite: bool = False) -> Path:
    """Write a phantom and its ground truth into the folder ``path`` (atomically).

    Layout for an XCT phantom:

    - ``image.ome.zarr`` with ``labels/phases``, ``labels/particles``,
      ``labels/voids``, ``labels/cracks``, ``labels/dendrites``
      (or ``image.ome.tif`` and ``labels/<name>.ome.tif`` with ``format="tiff"``);
    - ``truth.csv`` (``metric,value,unit,source``), ``objects.csv`` (one row per
      particle, void, crack, dendrite) and ``phantom.json`` (the generator's
      parameters and image formation).

    A :class:`PhantomSeries` writes one such folder per timepoint (``t00``,
    ``t01``, ...), a combined ``truth.csv`` with ``timepoint`` and ``cycle``
    columns and ``series.json`` (cycles, shifts in µm, grey drift). An
    :class:`SemEdsPhantom` writes ``maps/`` (``SEM.tif`` and one TIFF per
    element, readable by :func:`ssbimage.io.open_sem_eds`), ``phases.tif``,
    ``particles.tif``, ``cathode_fraction.tif`` and ``truth.csv``.
    """
    if format not in ("ome-zarr", "tiff"):
        raise ValueError(f"format must be 'ome-zarr' or 'tiff', got {format!r}")
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        if isinstance(phantom, PhantomSeries):
            _save_series(phantom, tmp, format)
        elif isinstance(phantom, SemEdsPhantom):
            _save_sem_eds(phantom, tmp)
        elif isinstance(phantom, Phantom):
            _save_xct(phantom, tmp, format)
        else:
            raise TypeError(f"not a phantom: {type(phantom).__name__}")
    return Path(path)


def _save_xct(phantom: Phantom, folder: Path, format: str) -> None:
    labels = {"phases": phantom.phases, **phantom.labels}
    if format == "ome-zarr":
        image = save_ome_zarr(phantom.image, folder / "image.ome.zarr")
        for name, vol in labels.items():
            save_ome_zarr_labels(vol, image, name,
                                 colors=PHASE_COLOURS if name == "phases" else None)
    else:
        save_tiff(phantom.image, folder / "image.ome.tif")
        for name, vol in labels.items():
            save_tiff(vol, folder / "labels" / f"{name}.ome.tif")
    phantom.truth.to_csv(folder / "truth.csv", index=False)
    phantom.objects.to_csv(folder / "objects.csv", index=False)
    meta = {"params": dict(phantom.params), "xct": dataclasses.asdict(phantom.xct),
            "spacing_um": list(phantom.spacing)}
    (folder / "phantom.json").write_text(json.dumps(meta, indent=2, default=_json_default))


def _save_series(series: PhantomSeries, folder: Path, format: str) -> None:
    for t, phantom in enumerate(series.phantoms):
        _save_xct(phantom, _mkdir(folder / f"t{t:02d}"), format)
    series.truth.to_csv(folder / "truth.csv", index=False)
    meta = {"cycles": list(series.cycles), "shifts_um": series.shifts, "gains": series.gains,
            "offsets": series.offsets, "timepoints": [f"t{t:02d}" for t in range(len(series))]}
    (folder / "series.json").write_text(json.dumps(meta, indent=2, default=_json_default))


def _save_sem_eds(phantom: SemEdsPhantom, folder: Path) -> None:
    import tifffile

    maps = _mkdir(folder / "maps")
    dy, dx = phantom.maps.spacing
    options = dict(imagej=True, resolution=(1 / dx, 1 / dy), metadata={"unit": "um"},
                   compression="zlib")
    for name, image in phantom.maps.channels.items():
        tifffile.imwrite(maps / f"{name}.tif", image, **options)
    tifffile.imwrite(folder / "phases.tif", phantom.phases, **options)
    tifffile.imwrite(folder / "particles.tif", phantom.particles.astype(np.uint16), **options)
    tifffile.imwrite(folder / "cathode_fraction.tif", phantom.cathode_fraction.astype(np.float32),
                     **options)
    phantom.truth.to_csv(folder / "truth.csv", index=False)
    (folder / "phantom.json").write_text(json.dumps({"params": phantom.params}, indent=2,
                                                    default=_json_default))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


