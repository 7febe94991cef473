"""Segmentation of volumes into phases and instances, chunk by chunk."""

from ._classifier import PixelClassifier, load_classifier
from ._cracks import segment_cracks
from ._dendrites import segment_dendrites
from ._features import multiscale_features, shape_ratios
from ._label import label, label_and_count
from ._particles import particle_distance, segment_particles
from ._phases import PHASE_ORDER, between_phases, global_thresholds, threshold_phases
from ._voids import segment_voids

__all__ = ["PixelClassifier", "load_classifier", "multiscale_features", "shape_ratios", "label", "label_and_count",
           "PHASE_ORDER", "between_phases", "global_thresholds", "threshold_phases", "segment_voids",
           "segment_dendrites", "segment_cracks", "particle_distance", "segment_particles"]
