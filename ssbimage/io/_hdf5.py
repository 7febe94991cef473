"""HDF5 volumes: synchrotron Data Exchange files (``/exchange/data``) and any named dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._spacing import length_in_micrometres
from ..errors import CorruptFileError, DatasetNotFoundError
from ._sources import Hdf5Source

DATA_EXCHANGE = "/exchange/data"


def read_hdf5(path: Path, *, dataset: str | None = None):
    """Open one HDF5 dataset lazily; return ``(source, spacing_or_None, metadata, storage_chunks)``."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"not a readable HDF5 file ({exc})", path) from exc
    with f:
        name = dataset or DATA_EXCHANGE
        node = f.get(name)
        if not isinstance(node, h5py.Dataset):
            found = _list_datasets(f)
            hint = "" if dataset else " (the Data Exchange default); pass dataset=..."
            raise DatasetNotFoundError(
                f"has no dataset {name!r}{hint}; datasets in the file: {found or 'none'}", path
            )
        spacing = _hdf5_spacing(f, node)
        meta = {"format": "hdf5", "dataset": node.name}
        return Hdf5Source(str(path), node.shape, node.dtype, node.name), spacing, meta, node.chunks


def _list_datasets(f) -> list[str]:
    import h5py

    found: list[str] = []
    f.visititems(lambda n, obj: found.append("/" + n) if isinstance(obj, h5py.Dataset) else None)
    return found[:20]


def _scalar(f, key):
    node = f.get(key)
    if node is None or node.shape not in ((), (1,)):
        return None
    value = float(np.asarray(node[()]).ravel()[0])
    unit = node.attrs.get("units", node.attrs.get("unit"))
    return value, unit.decode() if isinstance(unit, bytes) else unit


def _hdf5_spacing(f, node):
    """(z, y, x) µm from ``element_size_um`` (ilastik/Fiji convention) or Data Exchange."""
    if "element_size_um" in node.attrs:
        values = np.asarray(node.attrs["element_size_um"], float).ravel()
        if values.size >= 3:
            return tuple(values[-3:])
    if node.name == DATA_EXCHANGE:
        # Data Exchange (the order tomopy-cli reads them): effective pixel at the sample
        for key in ("/measurement/instrument/detection_system/objective/resolution",
                    "/measurement/instrument/detector/actual_pixel_size_x"):
            um = _length_um(f, key)
            if um:
                return (um, um, um)
        camera = _length_um(f, "/measurement/instrument/detector/pixel_size_x")
        magnification = _scalar(f, "/measurement/instrument/detection_system/objective/magnification")
        if camera and magnification and magnification[0] > 0:
            um = camera / magnification[0]
            return (um, um, um)
    return None


def _length_um(f, key):
    """A Data Exchange length in µm. The spec says SI when ``units`` is absent, but
    beamlines write micrometres there in practice; a value above 1e-3 read as metres
    would be a millimetre-sized voxel, so such values are taken as µm."""
    found = _scalar(f, key)
    if found is None:
        return None
    value, unit = found
    if unit is None:
        unit = "µm" if value > 1e-3 else "m"
    return length_in_micrometres(value, unit)
