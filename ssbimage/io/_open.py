"""`open_volume`: one entry point that reads any supported volume lazily."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
from dask.base import tokenize

from .._spacing import MICROMETRE, VOXEL, check_spacing
from ..errors import (
    CorruptFileError,
    DimensionError,
    InputNotFoundError,
    SpacingError,
    SpacingUnknownWarning,
    UnsupportedFormatError,
)
from ..volume import Volume
from ._hdf5 import read_hdf5
from ._sources import NpySource
from ._tiff import TIFF_SUFFIXES, list_slices, read_slice_stack, read_tiff
from ._zarr import read_zarr, squeeze_to_volume

_MAGIC = {
    b"II*\x00": "tiff", b"MM\x00*": "tiff", b"II+\x00": "tiff", b"MM\x00+": "tiff",
    b"\x89HDF\r\n\x1a\n": "hdf5", b"\x93NUMPY": "npy",
}
_SUFFIX = {**{s: "tiff" for s in TIFF_SUFFIXES}, ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5",
           ".he5": "hdf5", ".nxs": "hdf5", ".npy": "npy"}
SUPPORTED = "TIFF/OME-TIFF/ImageJ stacks, folders of TIFF slices, Zarr/OME-Zarr, HDF5, .npy"


def detect_format(path: Path) -> str:
    """Name the reader for ``path`` from what it is, checking file signatures."""
    if path.is_dir():
        if any((path / m).exists() for m in ("zarr.json", ".zarray", ".zgroup")):
            return "zarr"
        return "tiff-slices"
    if path.stat().st_size == 0:
        raise CorruptFileError("the file is empty", path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    by_magic = next((fmt for magic, fmt in _MAGIC.items() if head.startswith(magic)), None)
    by_suffix = _SUFFIX.get(path.suffix.lower())
    if by_suffix and by_magic != by_suffix:
        raise CorruptFileError(
            f"named like a {by_suffix.upper()} file but its content is not one "
            f"(first bytes {head!r})", path
        )
    if by_magic is None:
        raise UnsupportedFormatError(f"unrecognised file type; ssbimage reads {SUPPORTED}", path)
    return by_magic


AUTO_BLOCK = 128  # voxels: "auto" Dask chunks of chunked files hold about a 128³ block


def _chunks(chunks, shape, dtype, storage_chunks, chunked_file=False):
    if chunks is None or chunks == "auto":
        # Dask's default (128 MiB) made 384³ chunks of a 1024³ Zarr scan of 128³
        # chunks; analyze cuts them into 128³ work blocks, and every batch of
        # blocks read whole 384³ chunks again (17 decodes of each stored chunk
        # against 7.6 with 128³ chunks; docs/performance.md)
        # never less than one stored chunk: splitting one would decode it once per piece
        stored = int(np.prod(storage_chunks)) if storage_chunks is not None else 0
        limit = max(AUTO_BLOCK ** 3, stored) * np.dtype(dtype).itemsize if chunked_file else None
        return da.core.normalize_chunks("auto", shape, dtype=dtype, previous_chunks=storage_chunks, limit=limit)
    return chunks


def _volume_name(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr", ".zarr", *TIFF_SUFFIXES, ".h5", ".hdf5",
                   ".nxs", ".npy"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_volume(
    path: str | os.PathLike,
    spacing: float | tuple[float, float, float] | None = None,
    *,
    chunks="auto",
    dataset: str | None = None,
    level: int = 0,
    series: int = 0,
) -> Volume:
    """Open a 3D (or 3D + time) image lazily, without reading its voxels.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF stack (multi-page, BigTIFF, OME-TIFF, ImageJ hyperstack), a
        folder or glob of 2D TIFF slices (natural order: ``2`` before ``10``),
        a Zarr v2/v3 array or OME-Zarr image (NGFF 0.4/0.5), an HDF5 file
        (Data Exchange ``/exchange/data`` by default) or a ``.npy`` file.
    spacing : float or (dz, dy, dx) tuple, optional
        Voxel size in µm. Always wins over what the file says. When neither
        gives it, the volume records it as unknown (``unit="voxel"``) and a
        :class:`~ssbimage.errors.SpacingUnknownWarning` is issued.
    chunks : "auto", tuple or dict
        Dask chunking; "auto" follows the file's own storage chunks/pages
        (for Zarr and HDF5, whole stored chunks making about a 128³ block, or one
        stored chunk if that is larger).
    dataset : str, optional
        HDF5 dataset path or Zarr array inside a group.
    level : int
        Pyramid level for multiscale OME-Zarr / OME-TIFF (0 = full resolution).
    series : int
        Image series in a multi-series TIFF.

    Returns
    -------
    Volume
        Lazy; each Dask chunk reads only its part of the file.

    Raises
    ------
    ssbimage.errors.SsbImageError
        Subclasses naming the file: missing path, unsupported or corrupt
        file, wrong dimensionality, inconsistent slices, missing dataset,
        bad spacing.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "scan.npy")
    >>> np.save(path, np.zeros((64, 32, 32), np.uint16))
    >>> vol = open_volume(path, spacing=0.65, chunks=(16, 32, 32))
    >>> vol.spacing, vol.data.numblocks
    ((0.65, 0.65, 0.65), (4, 1, 1))
    """
    path = Path(path)
    is_glob = any(ch in str(path) for ch in "*?[") and not path.exists()
    if not is_glob and not path.exists():
        raise InputNotFoundError("no such file or folder", path)
    if spacing is not None:
        spacing = check_spacing(spacing, 3, path=path)

    fmt = "tiff-slices" if is_glob else detect_format(path)
    storage_chunks = None
    axes = None
    if fmt == "tiff":
        source, found, meta = read_tiff(path, series=series, level=level)
        storage_chunks = (1,) * (len(source.shape) - 2) + source.shape[-2:]
    elif fmt == "tiff-slices":
        files = list_slices(path)
        if not files:
            raise InputNotFoundError("the pattern matches no files", path)
        source, meta = read_slice_stack(files, path)
        found = None
        storage_chunks = (1,) + source.shape[1:]
    elif fmt == "zarr":
        source, found, meta = read_zarr(path, dataset=dataset, level=level)
        storage_chunks = source.chunks
        axes = meta.get("axes")
    elif fmt == "hdf5":
        source, found, meta, storage_chunks = read_hdf5(path, dataset=dataset)
    else:  # npy
        try:
            mm = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise CorruptFileError(f"not a readable .npy file ({exc})", path) from exc
        source, found, meta = NpySource(str(path), mm.shape, mm.dtype), None, {"format": "npy"}
        # whole planes along the file's fastest axes, so a chunk maps a contiguous run
        plane = (1,) * (mm.ndim - 2) + mm.shape[-2:]
        storage_chunks = plane[::-1] if mm.flags.f_contiguous and not mm.flags.c_contiguous else plane
        del mm

    shape = tuple(source.shape)
    if len(shape) < 3:
        raise DimensionError(
            f"holds a {len(shape)}D image of shape {shape}; a volume needs 3 axes (z, y, x). "
            "For a single SEM image or element map use ssbimage.io.open_sem_eds", path
        )
    dask_chunks = _chunks(chunks, shape, source.dtype, storage_chunks, chunked_file=fmt in ("zarr", "hdf5"))
    token = tokenize(str(path.resolve()), fmt, dataset, level, series, _stamp(path), dask_chunks)
    if fmt == "zarr":
        data = da.from_zarr(source, chunks=dask_chunks, name=f"open-{token}")
    else:
        data = da.from_array(source, chunks=dask_chunks, name=f"open-{token}", lock=False,
                             meta=np.empty((0,) * len(shape), source.dtype))
    if axes is not None and len(axes) == data.ndim:
        data = squeeze_to_volume(data, axes, path)
    elif data.ndim > 4:  # e.g. a TIFF series with singleton leading axes
        data = data.squeeze(axis=tuple(i for i, n in enumerate(shape[:-3]) if n == 1))
    if data.ndim > 4:
        raise DimensionError(
            f"has shape {shape}; ssbimage reads (z, y, x) or (t, z, y, x) volumes", path
        )

    if spacing is not None:
        meta["spacing_source"], unit = "user", MICROMETRE
    elif found is not None:
        try:
            spacing = check_spacing(found, 3, path=path)
        except SpacingError as exc:
            raise SpacingError(
                f"the file's own voxel size {found!r} is invalid; pass spacing=(dz, dy, dx) in µm",
                path,
            ) from exc
        meta["spacing_source"], unit = "metadata", MICROMETRE
    else:
        warnings.warn(
            f"{path}: no voxel spacing in the file and none given; sizes will be in voxels. "
            "Pass spacing=(dz, dy, dx) in µm.", SpacingUnknownWarning, stacklevel=2,
        )
        spacing, unit, meta["spacing_source"] = (1.0, 1.0, 1.0), VOXEL, "unknown"
    name = meta.pop("name", "") or _volume_name(path)
    return Volume(data, spacing, unit, name, str(path), meta)


def _stamp(path: Path):
    try:
        st = path.stat()
        return st.st_mtime_ns, st.st_size
    except OSError:
        return None
