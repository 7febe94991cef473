"""Synthetic XCT phantoms of solid-state batteries with exact ground truth."""

from ._anode import anode_interface
from ._cathode import composite_cathode
from ._phantom import Phantom
from ._xct import XCTModel

__all__ = ["anode_interface", "composite_cathode", "Phantom", "XCTModel"]
