"""`Volume`: a lazy image with its voxel spacing — the object every layer passes around."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import dask.array as da
import numpy as np

from ._spacing import MICROMETRE, VOXEL, check_spacing
from .errors import DimensionError

__all__ = ["Volume"]

_AXES = {3: "zyx", 4: "tzyx"}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Volume:
    """A 3D image (or a time series of them) as a lazy Dask array with spacing.

    Parameters
    ----------
    data : (Z, Y, X) or (T, Z, Y, X) dask array
        The voxels. A NumPy array is wrapped with :func:`dask.array.from_array`.
    spacing : tuple of 3 float, optional
        Voxel size along (z, y, x) in µm. ``None`` means unknown: the spacing
        is then recorded as ``(1, 1, 1)`` with ``unit="voxel"``.
    unit : str
        ``"µm"`` when the spacing is known, ``"voxel"`` when it is not.
    name : str
        Short name for tables and layer titles (the file stem by default).
    source : str, optional
        Path the voxels were read from.
    metadata : mapping
        Anything else worth keeping (instrument, original tags); read-only.

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume.from_array(np.zeros((4, 5, 6), np.uint16), spacing=0.65)
    >>> vol.shape, vol.spacing, vol.unit
    ((4, 5, 6), (0.65, 0.65, 0.65), 'µm')
    """

    data: da.Array
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    unit: str = VOXEL
    name: str = ""
    source: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, da.Array):
            data = da.from_array(np.asarray(data) if not hasattr(data, "shape") else data)
        if data.ndim not in _AXES:
            raise DimensionError(
                f"a volume needs 3 axes (z, y, x) or 4 (t, z, y, x); got shape {data.shape}",
                self.source,
            )
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "spacing", check_spacing(self.spacing, 3, path=self.source))
        if self.unit not in (MICROMETRE, VOXEL):
            raise ValueError(f"unit must be {MICROMETRE!r} or {VOXEL!r}, got {self.unit!r}")
        if self.source is not None:
            object.__setattr__(self, "source", os.fspath(self.source))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @classmethod
    def from_array(cls, array, spacing=None, *, name: str = "", chunks="auto", **kwargs) -> Volume:
        """Wrap a NumPy or Dask array; ``spacing=None`` records it as unknown."""
        data = array if isinstance(array, da.Array) else da.from_array(array, chunks=chunks)
        if spacing is None:
            return cls(data, (1.0, 1.0, 1.0), VOXEL, name, **kwargs)
        return cls(data, check_spacing(spacing, 3), MICROMETRE, name, **kwargs)

    @property
    def axes(self) -> str:
        """Axis names, ``"zyx"`` or ``"tzyx"``."""
        return _AXES[self.data.ndim]

    @property
    def spacing_known(self) -> bool:
        """False when the spacing was found nowhere and is a placeholder of 1 voxel."""
        return self.unit == MICROMETRE

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        return self.data.chunks

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    @property
    def physical_size(self) -> tuple[float, float, float]:
        """Extent along (z, y, x) in ``unit``."""
        return tuple(n * s for n, s in zip(self.shape[-3:], self.spacing))

    def replace(self, **changes) -> Volume:
        """A copy with some fields changed (``data``, ``spacing``, ``name``, ...)."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:g}" for s in self.spacing)
        return (
            f"Volume(name={self.name!r}, shape={self.shape}, dtype={self.dtype}, "
            f"axes={self.axes!r}, spacing=({spacing}) {self.unit}, "
            f"chunksize={self.data.chunksize}, source={self.source!r})"
        )
