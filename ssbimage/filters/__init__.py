"""Preprocessing filters for tomograms, chunked with explicit halos."""

from ._artefacts import correct_cupping, reduce_rings
from ._denoise import anisotropic_diffusion, noise_sigma, non_local_means
from ._normalise import match_histogram, match_peaks, normalise_intensity
from ._smooth import gaussian, median

__all__ = ["anisotropic_diffusion", "correct_cupping", "gaussian", "match_histogram", "median",
           "noise_sigma", "non_local_means", "normalise_intensity", "reduce_rings",
           "match_peaks"]
