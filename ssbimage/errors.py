"""Exceptions raised by ssbimage.

Every error a user can cause with their data is an :class:`SsbImageError`,
so notebooks and batch scripts can catch them all with one ``except``. Each
message names the file (where there is one) and what is wrong with it.
The subclasses also derive from the matching built-in exception, so code
written against ``FileNotFoundError`` or ``ValueError`` keeps working.
"""

from __future__ import annotations

import os

__all__ = [
    "SsbImageError",
    "InputNotFoundError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "DimensionError",
    "InconsistentSlicesError",
    "DatasetNotFoundError",
    "SpacingError",
    "OutputExistsError",
]


class SsbImageError(Exception):
    """Base class of every error ssbimage raises about its inputs or outputs.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    path : str or os.PathLike, optional
        The file or folder concerned; it is put in front of the message.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.reason = message
        text = message if self.path is None else f"{self.path}: {message}"
        super().__init__(text)


class InputNotFoundError(SsbImageError, FileNotFoundError):
    """The input path does not exist (or a glob matched nothing)."""


class UnsupportedFormatError(SsbImageError, ValueError):
    """The file exists but is not a format ssbimage reads."""


class CorruptFileError(SsbImageError, ValueError):
    """The file claims a supported format but cannot be read (truncated, damaged)."""


class DimensionError(SsbImageError, ValueError):
    """The data have the wrong number of dimensions for the requested use."""


class InconsistentSlicesError(SsbImageError, ValueError):
    """The 2D slices of a stack differ in shape or dtype."""


class DatasetNotFoundError(SsbImageError, KeyError):
    """The requested dataset (HDF5 path, Zarr array, pyramid level) is missing."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class SpacingError(SsbImageError, ValueError):
    """Voxel spacing is malformed, non-finite or non-positive."""


class OutputExistsError(SsbImageError, FileExistsError):
    """The output path exists and overwriting was not requested."""


class SpacingUnknownWarning(UserWarning):
    """No voxel spacing was given or found; measurements will be in voxels."""


__all__.append("SpacingUnknownWarning")
