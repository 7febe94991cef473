"""Measurements that reduce a volume to numbers and tables, chunk by chunk."""

from ._faces import interface_and_envelope_areas, interface_areas
from ._intensity import intensity_histogram, intensity_summary
from ._metrics import (
    dendrite_metrics,
    electrode_metrics,
    particle_table,
    phase_fractions,
    porosity_profile,
    region_fractions,
)
from ._envelopes import label_surface_areas
from ._surfaces import curvature_factors, gap_voxels
from ._tortuosity import tortuosity_factor

__all__ = ["intensity_histogram", "intensity_summary", "interface_and_envelope_areas", "interface_areas",
           "label_surface_areas", "curvature_factors", "gap_voxels", "phase_fractions", "region_fractions",
           "porosity_profile", "particle_table", "electrode_metrics", "dendrite_metrics", "tortuosity_factor"]
