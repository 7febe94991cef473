"""Picklable, lazily opened array sources for :func:`dask.array.from_array`.

Each source knows only its path and how to read a region. The file is
opened on first use in each process (so a ``dask.distributed`` worker opens
its own handle, and pickling ships a path, not an open file or the voxels)
and read errors are re-raised as :class:`~ssbimage.errors.CorruptFileError`
naming the file.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from ..errors import CorruptFileError

_open_lock = threading.Lock()


def _stamp(path: str) -> tuple[str, int, int]:
    """Cache key that changes when the file is replaced or rewritten."""
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


class LazySource:
    """Base class: ``shape``, ``dtype``, ``ndim`` and ``__getitem__`` on a file."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype) -> None:
        self.path = str(path)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)

    def _read(self, key):  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, key):
        try:
            return self._read(key)
        except (CorruptFileError, MemoryError):
            raise
        except Exception as exc:  # decoders raise anything from IndexError to zlib.error
            raise CorruptFileError(f"cannot read voxels {key!r}: {exc}", self.path) from exc

    def __reduce__(self):
        return (type(self), self._args())

    def _args(self) -> tuple:
        return (self.path, self.shape, self.dtype)


class TiffSource(LazySource):
    """A TIFF series (or pyramid level) read through tifffile's Zarr store."""

    def __init__(self, path, shape, dtype, series: int = 0, level: int = 0) -> None:
        super().__init__(path, shape, dtype)
        self.series, self.level = int(series), int(level)

    def _args(self):
        return (self.path, self.shape, self.dtype, self.series, self.level)

    def _read(self, key):
        return _tiff_zarr(_stamp(self.path), self.series, self.level)[key]


@lru_cache(maxsize=16)
def _tiff_zarr(stamp, series: int, level: int):
    import tifffile
    import zarr

    path = stamp[0]
    with _open_lock:
        store = tifffile.imread(path, aszarr=True, series=series, level=level)
        return zarr.open_array(store, mode="r")


class SliceStackSource(LazySource):
    """A stack of 2D image files, one per z; reads only the slices asked for."""

    def __init__(self, files, shape, dtype) -> None:
        super().__init__(files[0], shape, dtype)
        self.files = tuple(str(f) for f in files)

    def _args(self):
        return (self.files, self.shape, self.dtype)

    def __getitem__(self, key):
        # errors name the slice file, so they are raised by _read itself
        return self._read(key)

    def _read(self, key):
        import tifffile

        key = key if isinstance(key, tuple) else (key,)
        zkey, rest = key[0], key[1:]
        indices = range(len(self.files))[zkey]
        if isinstance(indices, int):
            indices, squeeze = [indices], True
        else:
            squeeze = False
        planes = []
        for i in indices:
            try:
                plane = tifffile.imread(self.files[i])
            except Exception as exc:  # tifffile raises many types for bad files
                raise CorruptFileError(f"cannot read slice: {exc}", self.files[i]) from exc
            if plane.shape != self.shape[1:] or plane.dtype != self.dtype:
                raise CorruptFileError(
                    f"slice has shape {plane.shape} {plane.dtype}, the stack has "
                    f"{self.shape[1:]} {self.dtype}", self.files[i]
                )
            planes.append(plane[rest])
        out = np.stack(planes) if planes else np.empty((0,) + self.shape[1:], self.dtype)[(slice(None),) + rest]
        return out[0] if squeeze else out


class Hdf5Source(LazySource):
    """One HDF5 dataset, opened read-only per process."""

    def __init__(self, path, shape, dtype, dataset: str) -> None:
        super().__init__(path, shape, dtype)
        self.dataset = dataset

    def _args(self):
        return (self.path, self.shape, self.dtype, self.dataset)

    def _read(self, key):
        with _open_lock:  # h5py is not thread-safe across handles of one file
            return _h5_dataset(_stamp(self.path), self.dataset)[key]


@lru_cache(maxsize=16)
def _h5_dataset(stamp, dataset: str):
    import h5py

    return h5py.File(stamp[0], "r")[dataset]


class NpySource(LazySource):
    """A ``.npy`` file, memory-mapped read-only per process."""

    def _read(self, key):
        return np.array(_npy_memmap(_stamp(self.path))[key])


@lru_cache(maxsize=16)
def _npy_memmap(stamp):
    return np.load(stamp[0], mmap_mode="r")
