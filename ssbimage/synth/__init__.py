"""Synthetic XCT and SEM/EDS phantoms of solid-state batteries with exact ground truth.

Generators (PoreSpy's ``generators`` is the model):

- :func:`composite_cathode` — active-material particles in a solid electrolyte,
  with contact-loss shells, cracks and pores;
- :func:`anode_interface` — Li metal | electrolyte (| cathode) with dendrites,
  stripping voids and pores;
- :func:`cycling_series` — either of the above degrading over cycles, with
  rigid shifts and grey-level drift between scans;
- :func:`sem_eds` — a 2D SEM image with element count maps and a known
  interdiffusion width.

Scores (:func:`phase_dice`, :func:`match_instances`) compare a segmentation
with a phantom's truth, chunk by chunk; :func:`simulate_annotations` draws
brush-stroke-like training labels from it, and
:func:`simulate_dendrite_annotations` the strokes a user paints on an anode.
"""

from ._annotations import simulate_annotations, simulate_dendrite_annotations
from ._anode import anode_interface
from ._cathode import composite_cathode
from ._phantom import Phantom
from ._save import save_phantom
from ._scores import match_instances, phase_dice
from ._sem_eds import SemEdsPhantom, sem_eds
from ._series import PhantomSeries, cycling_series
from ._xct import XCTModel

__all__ = ["anode_interface", "composite_cathode", "cycling_series", "sem_eds", "Phantom",
           "PhantomSeries", "SemEdsPhantom", "XCTModel", "save_phantom",
           "phase_dice", "match_instances", "simulate_annotations",
           "simulate_dendrite_annotations"]
