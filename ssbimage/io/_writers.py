"""Writers: OME-Zarr (with labels) and OME-TIFF, all atomic."""

from __future__ import annotations

import os
from pathlib import Path

from ._atomic import atomic_output, check_not_input
from ._tiff import write_ome_tiff
from ._zarr import save_ome_zarr, save_ome_zarr_labels

__all__ = ["save_ome_zarr", "save_ome_zarr_labels", "save_tiff"]


def save_tiff(volume, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a (z, y, x) volume as OME-TIFF (BigTIFF above 2 GiB) with its spacing.

    One z-chunk of planes is held in memory at a time. Nothing appears at
    ``path`` until the file is complete.

    Parameters
    ----------
    volume : Volume
        The image; a known spacing is stored as OME ``PhysicalSize`` in µm.
    path : str or os.PathLike
        Output file, conventionally ``*.ome.tif``.
    overwrite : bool
        Replace an existing file once the new one is written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ssbimage import Volume
    >>> from ssbimage.io import open_volume
    >>> vol = Volume.from_array(np.zeros((3, 4, 5), np.uint16), spacing=(1.0, 0.5, 0.5))
    >>> out = save_tiff(vol, os.path.join(tempfile.mkdtemp(), "v.ome.tif"))
    >>> open_volume(out).spacing
    (1.0, 0.5, 0.5)
    """
    path = Path(path)
    check_not_input(path, volume.source)
    with atomic_output(path, overwrite=overwrite) as tmp:
        write_ome_tiff(volume, tmp)
    return path
