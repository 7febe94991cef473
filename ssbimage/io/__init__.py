"""Reading and writing volumes and SEM/EDS maps, lazily and safely.

Readers never load a whole volume and never write next to their input;
writers are atomic (nothing at the final path until the output is complete).
"""

from ._open import open_volume
from ._writers import save_ome_zarr, save_ome_zarr_labels, save_tiff
from ._sem_eds import SemEds, open_sem_eds

__all__ = [
    "open_volume",
    "open_sem_eds",
    "SemEds",
    "save_ome_zarr",
    "save_ome_zarr_labels",
    "save_tiff",
]
