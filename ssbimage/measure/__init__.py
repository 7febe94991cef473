"""Measurements that reduce a volume to numbers and tables, chunk by chunk."""

from ._intensity import intensity_histogram, intensity_summary

__all__ = ["intensity_histogram", "intensity_summary"]
