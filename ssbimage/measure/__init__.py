"""Measurements that reduce a volume to numbers and tables, chunk by chunk."""

from ._intensity import intensity_histogram, intensity_summary
from ._surfaces import interface_areas, label_surface_areas

__all__ = ["intensity_histogram", "intensity_summary", "interface_areas", "label_surface_areas"]
