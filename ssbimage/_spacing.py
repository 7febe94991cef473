"""Voxel spacing: one validator used everywhere, and unit conversion to µm."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from .errors import SpacingError

__all__ = ["check_spacing", "length_in_micrometres", "MICROMETRE", "VOXEL"]

MICROMETRE = "µm"
VOXEL = "voxel"

# Length units as they appear in OME-XML, NGFF, ImageJ and HDF5 attributes,
# with their size in µm.
_UNIT_TO_UM = {
    "m": 1e6, "meter": 1e6, "metre": 1e6,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0,
    "micrometer": 1.0, "micrometre": 1.0, "\\u00b5m": 1.0,
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "å": 1e-4, "angstrom": 1e-4,
}


def length_in_micrometres(value: float, unit: str | None) -> float | None:
    """Convert a length given in ``unit`` to µm.

    Returns ``None`` when the unit is missing or not a length unit this
    module knows (``pixel``, ``inch`` from a DPI tag, ...), so callers can
    treat the spacing as unknown rather than guess.

    Examples
    --------
    >>> length_in_micrometres(650, "nanometer")
    0.65
    """
    if unit is None:
        return None
    factor = _UNIT_TO_UM.get(str(unit).strip().lower())
    if factor is None:
        return None
    return float(value) * factor


def check_spacing(
    spacing: float | Sequence[float],
    ndim: int = 3,
    *,
    path: str | os.PathLike | None = None,
) -> tuple[float, ...]:
    """Validate a voxel spacing and return it as a tuple of ``ndim`` floats.

    Parameters
    ----------
    spacing : float or sequence of float
        Voxel size in µm, one value per axis in (z, y, x) order, or one
        scalar for isotropic voxels.
    ndim : int
        Number of spatial axes.
    path : str or os.PathLike, optional
        File the spacing belongs to, named in the error message.

    Raises
    ------
    SpacingError
        If the spacing has the wrong length or holds a non-finite or
        non-positive value; the message shows the value.

    Examples
    --------
    >>> check_spacing(0.65)
    (0.65, 0.65, 0.65)
    >>> check_spacing((1.0, 0.5, 0.5))
    (1.0, 0.5, 0.5)
    """
    if isinstance(spacing, (str, bytes)):
        raise SpacingError(f"spacing must be numbers in µm, got {spacing!r}", path)
    try:
        values = [float(spacing)] * ndim  # type: ignore[arg-type]
    except TypeError:
        try:
            values = [float(s) for s in spacing]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise SpacingError(f"spacing must be numbers in µm, got {spacing!r}", path) from None
    except ValueError:
        raise SpacingError(f"spacing must be numbers in µm, got {spacing!r}", path) from None
    if len(values) != ndim:
        raise SpacingError(
            f"spacing needs {ndim} values (one per axis, z y x order), got {spacing!r}", path
        )
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise SpacingError(
            f"spacing must be finite and positive (µm per voxel), got {spacing!r}", path
        )
    return tuple(values)
