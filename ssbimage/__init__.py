"""ssbimage: segmentation and metrics for X-ray tomography and SEM/EDS of solid-state batteries."""

from . import errors, io, measure
from .volume import Volume

__version__ = "0.1.0"
__all__ = ["Volume", "errors", "io", "measure", "__version__"]
