"""Volume fractions, contact, crack and particle metrics of a segmented electrode.

Names and definitions are those of docs/metrics.md (and of the phantoms'
ground truth, so every number can be checked against a phantom). Volumes
are voxel counts × voxel volume; areas come from :func:`interface_and_envelope_areas`.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd

from .._arrays import as_dask, label_counts
from .._spacing import check_spacing
from ._faces import _areas_and_counts

__all__ = ["phase_fractions", "region_fractions", "porosity_profile", "particle_table", "electrode_metrics",
           "dendrite_metrics"]

ELECTROLYTE, ACTIVE, VOID, CRACK, LITHIUM = 1, 2, 3, 4, 5


def _rows(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", "value", "unit"])


def _phase_counts(phases) -> np.ndarray:
    return dask.compute(label_counts(as_dask(phases), 5))[0]


def phase_fractions(phases) -> pd.DataFrame:
    """Volume fractions of the sample (phase 0, outside, excluded).

    Returns a long table ``metric, value, unit`` with ``void_fraction``
    (phase 3: pores and interfacial gaps, not cracks), ``total_porosity``
    (phases 3 + 4), ``active_material_volume_fraction`` (2),
    ``electrolyte_volume_fraction`` (1) and ``lithium_volume_fraction`` (5).

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.ones((4, 4, 4), np.uint8); phases[0, 0, :2] = 3; phases[1, 0, 0] = 4
    >>> float(phase_fractions(phases).set_index("metric").value["total_porosity"])
    0.046875
    """
    return _fraction_rows(_phase_counts(phases))


def _fraction_rows(counts) -> pd.DataFrame:
    """The :func:`phase_fractions` table from voxel counts per phase 0..5."""
    sample = counts[1:].sum()
    share = counts / sample if sample else np.full(6, np.nan)
    return _rows([
        ("void_fraction", share[VOID], "1"),
        ("total_porosity", share[VOID] + share[CRACK], "1"),
        ("active_material_volume_fraction", share[ACTIVE], "1"),
        ("electrolyte_volume_fraction", share[ELECTROLYTE], "1"),
        ("lithium_volume_fraction", share[LITHIUM], "1"),
    ])


def region_fractions(phases, regions) -> pd.DataFrame:
    """Volume fractions per region of a label image (e.g. regions painted in napari).

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array
        Phase map.
    regions : (Z, Y, X) integer array
        Region labels, 0 = not in any region.

    Returns
    -------
    pandas.DataFrame
        ``region, sample_voxels, void_fraction, total_porosity,
        active_material_volume_fraction`` (as :func:`phase_fractions`), one
        row per region with sample voxels.

    Examples
    --------
    >>> import numpy as np
    >>> phases = np.ones((2, 4, 4), np.uint8); phases[0, 0, :2] = 3
    >>> regions = np.zeros((2, 4, 4), np.uint8); regions[0] = 1; regions[1] = 2
    >>> region_fractions(phases, regions).void_fraction.tolist()
    [0.125, 0.0]
    """
    phases = as_dask(phases)
    regions = as_dask(regions).rechunk(phases.chunks)
    n = int(regions.max().compute())
    combined = regions.astype(np.int64) * 6 + phases.astype(np.int64)
    counts = dask.compute(label_counts(combined, 6 * n + 5))[0].reshape(n + 1, 6)[1:]
    sample = counts[:, 1:].sum(axis=1)
    keep = sample > 0
    counts, sample = counts[keep], sample[keep]
    return pd.DataFrame({"region": np.flatnonzero(keep) + 1, "sample_voxels": sample,
                         "void_fraction": counts[:, VOID] / sample,
                         "total_porosity": (counts[:, VOID] + counts[:, CRACK]) / sample,
                         "active_material_volume_fraction": counts[:, ACTIVE] / sample})


def porosity_profile(phases, *, spacing=None, axis: int = 0) -> pd.DataFrame:
    """Void fraction and total porosity of every slice across ``axis`` (through-thickness).

    Returns ``position_um`` (slice centre), ``sample_voxels``, ``void_fraction``,
    ``total_porosity``; slices without sample voxels give NaN.
    """
    spacing = check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3)
    phases = as_dask(phases)
    other = tuple(a for a in range(3) if a != axis)
    sample, void, crack = dask.compute((phases > 0).sum(axis=other), (phases == VOID).sum(axis=other),
                                       (phases == CRACK).sum(axis=other))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"position_um": np.arange(phases.shape[axis]) * spacing[axis],
                             "sample_voxels": sample, "void_fraction": void / sample,
                             "total_porosity": (void + crack) / sample})


def particle_table(phases, particles, *, spacing=None, cracks=None, smoothing: float = 2.0) -> pd.DataFrame:
    """One row per particle: size, shape, contact with the electrolyte, cracks.

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array
        Phase map (DESIGN.md codes).
    particles : (Z, Y, X) integer array
        Particle labels whose envelopes include their cracks
        (:func:`ssbimage.segment.segment_particles`).
    spacing : float or (3,) floats
        Voxel size in µm.
    cracks : pandas.DataFrame, optional
        The crack table of :func:`ssbimage.segment.segment_cracks` (``host``
        column): gives ``crack_count``.
    smoothing : float
        σ of the interface normals in voxels (:func:`interface_areas`).

    Returns
    -------
    pandas.DataFrame
        ``label, voxels, volume_um3`` (envelope), ``equivalent_diameter_um``,
        ``surface_area_um2`` (whole envelope, :func:`interface_and_envelope_areas`), ``touches_boundary`` (cut by
        the volume's faces), ``sphericity`` (π^⅓ (6V)^⅔ / A; NaN for a cut
        particle, whose surface is open; biased high
        below ~5 voxels radius, where the area estimator reads low),
        ``active_surface_area_um2`` (active material facing electrolyte or
        void), ``contact_area_um2`` (facing electrolyte), ``contact_fraction``,
        ``crack_voxels``, ``crack_surface_area_um2`` (mid-surface: half the
        active material's area facing crack), ``crack_count``.
    """
    return _particle_table(phases, particles, spacing=spacing, cracks=cracks, smoothing=smoothing)[0]


def _particle_table(phases, particles, *, spacing=None, cracks=None, smoothing: float = 2.0):
    """:func:`particle_table` and the voxels per phase code, from one pass over both images."""
    spacing = check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3)
    phases, particles = as_dask(phases), as_dask(particles).rechunk(as_dask(phases).chunks)
    voxel = float(np.prod(spacing))
    areas, envelope, phase_counts, (sizes, crack_voxels), on_faces = _areas_and_counts(
        phases, particles, spacing=spacing, phase=ACTIVE, smoothing=smoothing, counted=CRACK)
    by_facing = areas.pivot_table(index="label", columns="facing", values="area_um2",
                                  aggfunc="sum", fill_value=0.0)
    envelope = envelope.set_index("label").surface_area_um2
    labels = np.flatnonzero(sizes[1:]) + 1
    table = pd.DataFrame({"label": labels, "voxels": sizes[labels]})
    table["volume_um3"] = table.voxels * voxel
    table["equivalent_diameter_um"] = np.cbrt(6 * table.volume_um3 / np.pi)
    table["surface_area_um2"] = envelope.reindex(labels, fill_value=0.0).to_numpy()
    table["touches_boundary"] = np.isin(labels, on_faces)
    with np.errstate(invalid="ignore", divide="ignore"):
        sphericity = np.pi ** (1 / 3) * (6 * table.volume_um3) ** (2 / 3) / table.surface_area_um2
        table["sphericity"] = sphericity.where(~table.touches_boundary)

        def facing(code):
            column = by_facing[code] if code in by_facing.columns else pd.Series(dtype=float)
            return column.reindex(labels, fill_value=0.0).to_numpy()

        table["contact_area_um2"] = facing(ELECTROLYTE)
        table["active_surface_area_um2"] = facing(ELECTROLYTE) + facing(VOID)
        table["contact_fraction"] = table.contact_area_um2 / table.active_surface_area_um2
        table["crack_voxels"] = crack_voxels[labels]
        table["crack_surface_area_um2"] = facing(CRACK) / 2
    if cracks is not None:
        table["crack_count"] = cracks[cracks.host > 0].groupby("host").size().reindex(
            labels, fill_value=0).to_numpy()
    return table, phase_counts


def electrode_metrics(phases, particles, *, spacing=None, cracks=None,
                      min_crack_volume: float = 0.0, smoothing: float = 2.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The composite-electrode metrics of docs/metrics.md, and the particle table.

    A particle is cracked when it holds crack voxels, at least
    ``min_crack_volume`` µm³ of them (a few misread voxels are not a crack);
    ``crack_count`` counts the cracks of :func:`ssbimage.segment.segment_cracks`
    (table ``cracks``) of at least that volume that lie in a particle.

    Returns ``(metrics, particles)``: a long table ``metric, value, unit``
    (fractions, ``contact_area``, ``active_surface_area``,
    ``contact_fraction``, ``specific_interface_area``, ``crack_surface_area``,
    ``crack_density``, ``crack_volume_fraction``, ``cracked_particle_fraction``,
    ``cracks_per_particle``, ``particle_count``, ``particle_d10/d50/d90``)
    and :func:`particle_table`.
    """
    spacing = check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3)
    voxel = float(np.prod(spacing))
    if cracks is not None:
        cracks = cracks[(cracks.volume >= min_crack_volume) & (cracks.host > 0)]
    table, counts = _particle_table(phases, particles, spacing=spacing, cracks=cracks, smoothing=smoothing)
    counts = counts[:6]  # codes 0..5 (DESIGN.md)
    sample_volume = counts[1:].sum() * voxel
    contact = table.contact_area_um2.sum()
    exposed = table.active_surface_area_um2.sum()
    crack_area = table.crack_surface_area_um2.sum()
    am_volume = counts[ACTIVE] * voxel
    n = len(table)
    crack_volume = table.crack_voxels * voxel
    cracked = int(((crack_volume > 0) & (crack_volume >= min_crack_volume)).sum())
    nan = float("nan")
    rows = [
        ("particle_count", n, "1"),
        ("contact_area", contact, "µm²"),
        ("active_surface_area", exposed, "µm²"),
        ("contact_fraction", contact / exposed if exposed else nan, "1"),
        ("specific_interface_area", contact / sample_volume if sample_volume else nan, "µm⁻¹"),
        ("crack_surface_area", crack_area, "µm²"),
        ("crack_density", crack_area / am_volume if am_volume else nan, "µm⁻¹"),
        ("crack_volume_fraction", counts[CRACK] / (counts[ACTIVE] + counts[CRACK])
         if counts[ACTIVE] + counts[CRACK] else nan, "1"),
        ("cracked_particle_fraction", cracked / n if n else nan, "1"),
    ]
    if cracks is not None:
        rows += [("crack_count", len(cracks), "1"),
                 ("cracks_per_particle", len(cracks) / n if n else nan, "1")]
    diameters = table.equivalent_diameter_um.to_numpy()
    rows += [(f"particle_d{q}", float(np.percentile(diameters, q)) if n else nan, "µm") for q in (10, 50, 90)]
    return pd.concat([_fraction_rows(counts), _rows(rows)], ignore_index=True), table


def dendrite_metrics(phases, dendrites: pd.DataFrame, *, spacing=None) -> pd.DataFrame:
    """Dendrite count, volume, length, branch points and penetration (docs/metrics.md).

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array
        Phase map with the Li-metal layer at the bottom of z.
    dendrites : pandas.DataFrame
        The table of :func:`ssbimage.segment.segment_dendrites` (its
        ``attrs["interface_um"]`` is the Li | electrolyte interface height).
    spacing : float or (3,) floats
        Voxel size in µm.

    Returns
    -------
    pandas.DataFrame
        ``metric, value, unit``: ``dendrite_count``, ``dendrite_volume``,
        ``dendrite_length``, ``dendrite_branch_points``,
        ``dendrite_max_penetration`` (µm above the interface),
        ``electrolyte_thickness`` (interface to the top of the last z-slice
        that is at least half electrolyte and holds under 1 % active
        material: the separator of a full cell), ``dendrite_penetration_fraction``.
    """
    spacing = check_spacing(getattr(phases, "spacing", 1.0) if spacing is None else spacing, 3)
    phases = as_dask(phases)
    area = phases.shape[1] * phases.shape[2]
    electrolyte, active = dask.compute((phases == ELECTROLYTE).sum(axis=(1, 2)) / area,
                                       (phases == ACTIVE).sum(axis=(1, 2)) / area)
    interface = float(dendrites.attrs.get("interface_um", np.nan))
    # the separator: from the interface up to the last slice before the
    # electrolyte thins out or a cathode layer begins (1 % active material)
    above = np.arange(len(electrolyte)) * spacing[0] > interface
    ends = np.flatnonzero(above & ((electrolyte < 0.5) | (active >= 0.01)))
    first_above = np.flatnonzero(above)
    if not len(first_above):
        thickness = np.nan
    else:
        top = (ends[0] if len(ends) else len(electrolyte)) - 0.5
        thickness = top * spacing[0] - interface
    penetration = float(dendrites.penetration_um.max()) if len(dendrites) else 0.0
    return _rows([
        ("dendrite_count", len(dendrites), "1"),
        ("dendrite_volume", float(dendrites.volume_um3.sum()), "µm³"),
        ("dendrite_length", float(dendrites.length_um.sum()), "µm"),
        ("dendrite_branch_points", int(dendrites.branch_points.sum()), "1"),
        ("dendrite_max_penetration", penetration, "µm"),
        ("electrolyte_thickness", thickness, "µm"),
        ("dendrite_penetration_fraction", penetration / thickness if thickness else np.nan, "1"),
    ])
