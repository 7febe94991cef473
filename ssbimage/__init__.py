"""ssbimage: segmentation and metrics for X-ray tomography and SEM/EDS of solid-state batteries."""

from . import errors, io, measure
from .pipeline import Analysis, analyze
from .volume import Volume

__version__ = "0.1.0"
__all__ = ["Analysis", "Volume", "analyze", "errors", "io", "measure", "__version__"]
