"""Preprocessing filters for tomograms, chunked with explicit halos."""

from ._smooth import gaussian, median

__all__ = ["gaussian", "median"]
