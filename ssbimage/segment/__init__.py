"""Segmentation of volumes into phases and instances, chunk by chunk."""

from ._label import label
from ._phases import PHASE_ORDER, global_thresholds, threshold_phases

__all__ = ["label", "PHASE_ORDER", "global_thresholds", "threshold_phases"]
