"""Cycling series: the same cell scanned at several cycle numbers as it degrades."""

from __future__ import annotations

import dataclasses

import dask.array as da
import numpy as np
import pandas as pd

from .._spacing import check_spacing
from ..volume import Volume
from ._anode import anode_interface
from ._cathode import composite_cathode
from ._phantom import Phantom
from ._xct import XCTModel

__all__ = ["cycling_series", "PhantomSeries"]


@dataclasses.dataclass(frozen=True, eq=False)
class PhantomSeries:
    """Phantoms of one cell at successive cycles.

    Attributes
    ----------
    phantoms : list of Phantom
        One per timepoint, each in its own scan frame (shifted, grey drift).
    cycles : tuple of int
        Cycle number of each timepoint.
    shifts : (T, 3) ndarray
        Rigid shift of the sample in each scan relative to the first, µm (z, y, x).
        A feature at x in the first scan is at x + shift in scan t.
    gains, offsets : (T,) ndarray
        Grey-level drift: grey_t = gain_t × grey + offset_t.
    """

    phantoms: list
    cycles: tuple
    shifts: np.ndarray
    gains: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.phantoms)

    def __getitem__(self, t) -> Phantom:
        return self.phantoms[t]

    @property
    def image(self) -> Volume:
        """All scans as one lazy (t, z, y, x) Volume."""
        first = self.phantoms[0].image
        data = da.stack([p.image.data for p in self.phantoms])
        return Volume(data, first.spacing, first.unit, "cycling_series",
                      metadata={"cycles": list(self.cycles)})

    @property
    def truth(self) -> pd.DataFrame:
        """Ground-truth metrics per timepoint, with ``timepoint`` and ``cycle`` columns."""
        tables = [p.truth.assign(timepoint=t, cycle=c)
                  for t, (p, c) in enumerate(zip(self.phantoms, self.cycles))]
        return pd.concat(tables, ignore_index=True)[["timepoint", "cycle", "metric", "value",
                                                     "unit", "source"]]

    def trend(self, metric: str) -> np.ndarray:
        """One metric's ground truth over the timepoints."""
        return np.array([p.truth_value(metric) for p in self.phantoms])


def cycling_series(
    sample: str = "cathode",
    n_timepoints: int = 4,
    *,
    cycles=None,
    shape=(96, 96, 96),
    spacing=0.5,
    max_shift: float = 3.0,
    drift: float = 0.05,
    xct: XCTModel | None = None,
    chunks=64,
    seed: int = 0,
    **sample_options,
) -> PhantomSeries:
    """The same cell at ``n_timepoints`` cycle numbers, degrading monotonically.

    Parameters
    ----------
    sample : {"cathode", "anode"}
        Which phantom: :func:`composite_cathode` (contact is lost as shells open,
        cracks lengthen and widen, pores grow) or :func:`anode_interface`
        (dendrites advance, stripping voids open).
    n_timepoints : int
        Number of scans.
    cycles : sequence of int, optional
        Cycle numbers (increasing); default evenly spaced from 0 to 100.
        Degradation at each scan is cycle / last cycle.
    shape, spacing
        Volume size (voxels) and voxel size (µm).
    max_shift : float
        Largest rigid shift per axis between scans, in voxels; shifts are drawn
        uniformly in ±max_shift (so both sub-voxel and few-voxel) and the first
        scan is not shifted.
    drift : float
        Grey-level drift between scans: gain in 1 ± drift, offset in
        ±drift × 20000 grey values; the first scan has none.
    xct : XCTModel, optional
        Base image formation (each scan gets its own noise seed and drift).
    chunks, seed
        As for the phantoms.
    **sample_options
        Passed to the phantom generator.

    Returns
    -------
    PhantomSeries

    Examples
    --------
    >>> s = cycling_series("cathode", 2, shape=(24, 24, 24), radius_range=(2, 3), seed=1)
    >>> s.cycles, s.image.shape
    ((0, 100), (2, 24, 24, 24))
    """
    spacing = check_spacing(spacing, 3)
    if cycles is None:
        cycles = np.rint(np.linspace(0, 100, n_timepoints)) if n_timepoints > 1 else [0]
    cycles = tuple(int(c) for c in cycles)
    if len(cycles) != n_timepoints or any(b <= a for a, b in zip(cycles, cycles[1:])):
        raise ValueError(f"cycles must be {n_timepoints} increasing numbers, got {cycles}")
    rng = np.random.default_rng([seed, 99])
    shifts = rng.uniform(-max_shift, max_shift, (n_timepoints, 3)) * np.asarray(spacing)
    gains = 1 + rng.uniform(-drift, drift, n_timepoints)
    offsets = rng.uniform(-drift, drift, n_timepoints) * 20000
    shifts[0], gains[0], offsets[0] = 0.0, 1.0, 0.0
    electrolyte = sample_options.get("electrolyte", "sulfide")
    base = xct or XCTModel.for_electrolyte(electrolyte)
    phantoms = []
    for t, cycle in enumerate(cycles):
        progress = cycle / cycles[-1] if cycles[-1] else 0.0
        model = dataclasses.replace(base, gain=float(gains[t]), offset=float(offsets[t]),
                                    seed=int(seed * 1000 + t))
        common = dict(shape=shape, spacing=spacing, xct=model, shift=tuple(shifts[t]),
                      chunks=chunks, seed=seed, **sample_options)
        if sample == "cathode":
            phantoms.append(composite_cathode(degradation=progress, **common))
        elif sample == "anode":
            phantoms.append(anode_interface(growth=progress, **common))
        else:
            raise ValueError(f"sample must be 'cathode' or 'anode', got {sample!r}")
    return PhantomSeries(phantoms, cycles, shifts, gains, offsets)
