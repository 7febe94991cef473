"""Synthetic XCT phantoms of solid-state batteries with exact ground truth."""

from ._cathode import composite_cathode
from ._phantom import Phantom
from ._xct import XCTModel

__all__ = ["composite_cathode", "Phantom", "XCTModel"]
