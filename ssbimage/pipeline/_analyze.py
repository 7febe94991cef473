"""`analyze`: image → phases → instances → metrics, as one call (the API, CLI and plugin share it)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import time
import weakref
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .._spacing import check_spacing
from ..volume import Volume
from ._config import AnalysisConfig, load_config

__all__ = ["Analysis", "analyze"]

LABEL_NAMES = ("particles", "voids", "cracks", "dendrites")
CRACK = 4  # DESIGN.md phase code
#: metric rows and particle-table columns that count the crack phase
CRACK_METRICS = ("crack_surface_area", "crack_density", "crack_volume_fraction", "cracked_particle_fraction",
                 "crack_count", "cracks_per_particle")
CRACK_COLUMNS = ("crack_voxels", "crack_surface_area_um2", "crack_count")


@dataclasses.dataclass
class Analysis:
    """What :func:`analyze` found.

    Attributes
    ----------
    metrics : pandas.DataFrame
        Long table ``metric, value, unit`` (names of docs/metrics.md).
    particles : pandas.DataFrame
        One row per particle (:func:`ssbimage.measure.particle_table`); empty for an anode.
    labels : dict of str to dask array
        ``phases`` (uint8) and instance labels ``particles``, ``voids``,
        ``cracks``, ``dendrites`` (uint32), lazy.
    spacing : tuple of float
        Voxel size (z, y, x) in µm.
    provenance : dict
        Source, settings, thresholds and versions: enough to redo the run.
    """

    metrics: pd.DataFrame
    particles: pd.DataFrame
    labels: dict
    spacing: tuple
    provenance: dict
    scratch: object = dataclasses.field(default=None, repr=False)  # removes the checkpoints

    def close(self) -> None:
        """Delete the run's scratch checkpoints (also done when the Analysis is garbage-collected).

        The lazy ``labels`` read from them: save first, or keep the Analysis.
        """
        if self.scratch is not None:
            self.scratch()

    def value(self, metric: str) -> float:
        """One metric's value."""
        return float(self.metrics.set_index("metric").value[metric])

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``metrics.csv``, ``particles.csv``, ``labels.zarr`` and ``provenance.json``.

        The folder appears complete or not at all (written under a temporary
        name, then renamed); an existing one is replaced only with ``overwrite``.
        """
        from ..io import save_ome_zarr, save_ome_zarr_labels
        from ..io._atomic import atomic_output, check_not_input

        final = Path(path)
        check_not_input(final, self.provenance.get("source"))
        with atomic_output(final, overwrite=overwrite) as tmp:
            tmp.mkdir(parents=True)
            self.metrics.to_csv(tmp / "metrics.csv", index=False)
            self.particles.to_csv(tmp / "particles.csv", index=False)
            zarr = save_ome_zarr(Volume.from_array(self.labels["phases"], spacing=self.spacing,
                                                   name="phases"), tmp / "labels.zarr", levels=1)
            for name in LABEL_NAMES:
                if name in self.labels:
                    save_ome_zarr_labels(self.labels[name], zarr, name, spacing=self.spacing, levels=1)
            (tmp / "provenance.json").write_text(json.dumps(self.provenance, indent=2, default=str),
                                                 encoding="utf-8")
        return final


def _open(source, spacing) -> Volume:
    if isinstance(source, Volume):
        if spacing is None:
            return source
        return dataclasses.replace(source, spacing=check_spacing(spacing, 3), unit="µm")
    if isinstance(source, (str, os.PathLike)):
        from ..io import open_volume

        return open_volume(source, spacing)
    return Volume.from_array(source, spacing)


#: blocks per compute of the phase map's checkpoint: batches of 8 (the scratch
#: stores' default) left the threads waiting at each batch's end and read the
#: chunks shared with the next batch again (1024³ phase stage, alternating:
#: 38.8-39.1 s in batches of 8, 33.0-33.5 s of 32, at 0.69 against 0.82 GB)
PHASE_BATCH = 32


def _checkpoint(array, scratch, name, chunks=None, batch=None):
    """Write a lazy array to a Zarr store in the scratch folder; return the Zarr array.

    Later steps read it many times; recomputing the classifier or the
    watershed each time would be slow, and holding the result in memory
    would not scale (a 2048³ phase map is 8 GiB).
    """
    from .._scratch import BATCH, _compressor, write_zarr

    # the scratch stores' codec (lz4): Zarr's default, zstd, took 6.1 ms to read a
    # 128³ chunk of particle labels against 3.7 ms, and the metrics read each many times
    return write_zarr(array, Path(scratch) / f"{name}.zarr", chunks=chunks, compressors=_compressor(array.dtype),
                      batch=batch or BATCH)


@contextmanager
def _stage(provenance, name):
    """Time one stage into ``provenance["stage_seconds"]`` (wall clock, s), after
    returning the memory earlier stages freed (:func:`ssbimage._arrays.return_freed_memory`)."""
    from .._arrays import return_freed_memory

    return_freed_memory()
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds = provenance.setdefault("stage_seconds", {})
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def _phases(image, spacing, config: AnalysisConfig, provenance):
    """The phase map, and the phase codes its method can give."""
    from ..filters import gaussian
    from ..segment import PHASE_ORDER, load_classifier, threshold_phases

    if config.classifier:
        classifier = load_classifier(config.classifier, trust=config.trust_classifier)
        provenance["phases"] = {"method": "classifier", "file": config.classifier}
        return classifier.predict(image), {int(c) for c in classifier.classes}
    smoothed = gaussian(image, config.denoise_sigma, spacing=spacing) if config.denoise_sigma else image
    phases, thresholds = threshold_phases(smoothed, sample=config.sample, thresholds=config.thresholds,
                                          partial_volume=config.partial_volume)
    provenance["phases"] = {"method": "thresholds", "thresholds": [float(t) for t in thresholds],
                            "partial_volume": config.partial_volume}
    return phases, set(PHASE_ORDER[config.sample])


def _without_cracks(metrics, particles, provenance):
    """Crack rows and columns as NaN: the phase map has no crack phase, so a 0 would be a guess.

    Grey thresholds give a cathode no crack class (a 1–3 voxel crack blurs
    to the electrolyte's or a void's grey), nor does a classifier trained
    without crack strokes.
    """
    metrics.loc[metrics.metric.isin(CRACK_METRICS), "value"] = float("nan")
    for column in CRACK_COLUMNS:
        if column in particles:
            particles[column] = float("nan")
    provenance["cracks"] = ("not measured: the phase map has no crack phase (code 4); train a classifier "
                            "with crack strokes to measure cracks")


def _segment_and_measure(volume, spacing, config: AnalysisConfig, provenance, scratch):
    """The run itself: label images, the particle table and the metric tables."""
    import dask.array as da

    from ..measure import dendrite_metrics, electrode_metrics, phase_fractions, tortuosity_factor
    from ..segment import segment_cracks, segment_dendrites, segment_particles, segment_voids

    with _stage(provenance, "phases"):
        data = volume.data.rechunk(config.chunk_size)
        phases, codes = _phases(data, spacing, config, provenance)
        phase_store = _checkpoint(phases, scratch, "phases", batch=PHASE_BATCH)
        phases = da.from_zarr(phase_store)
    labels = {"phases": phases}
    tables = []
    particles = pd.DataFrame()
    if config.sample in ("cathode", "full-cell"):
        with _stage(provenance, "particles"):
            # the store itself: the distance step reads its blocks with their halos from it
            particles_lazy, _ = segment_particles(phase_store, spacing=spacing, scratch_dir=scratch)
            # stored in the phase map's chunks, which the metrics read it in
            labels["particles"] = da.from_zarr(_checkpoint(particles_lazy, scratch, "particles",
                                                           chunks=phases.chunksize))
        with _stage(provenance, "voids"):
            labels["voids"], voids = segment_voids(phases, spacing=spacing, min_volume=config.min_void_volume)
        with _stage(provenance, "cracks"):
            labels["cracks"], cracks = segment_cracks(phases, labels["particles"], spacing=spacing)
        with _stage(provenance, "metrics"):
            metrics, particles = electrode_metrics(phases, labels["particles"], spacing=spacing, cracks=cracks,
                                                   min_crack_volume=config.min_crack_volume,
                                                   smoothing=config.surface_smoothing)
            if CRACK not in codes:
                _without_cracks(metrics, particles, provenance)
        tables += [metrics, pd.DataFrame([
            ("void_count", len(voids), "1"),
            ("interfacial_void_count", int(voids.interfacial.sum()) if len(voids) else 0, "1")],
            columns=["metric", "value", "unit"])]
        if config.tortuosity and config.sample == "full-cell":
            provenance["tortuosity"] = "not solved for a full cell: crop the cathode layer and call tortuosity_factor"
        elif config.tortuosity and phases.size <= config.tortuosity_max_voxels:
            with _stage(provenance, "tortuosity"):
                tau = tortuosity_factor(phases, phase=1, axis=0, spacing=spacing)
            tables.append(tau.assign(metric="electrolyte_" + tau.metric))
        elif config.tortuosity:
            provenance["tortuosity"] = (f"not solved: {phases.size} voxels > tortuosity_max_voxels "
                                        f"({config.tortuosity_max_voxels})")
    if config.sample in ("anode", "full-cell"):
        with _stage(provenance, "dendrites"):
            labels["dendrites"], dendrites = segment_dendrites(phases, spacing=spacing)
            if config.sample == "anode":
                tables.append(phase_fractions(phases))
            tables.append(dendrite_metrics(phases, dendrites, spacing=spacing))
    return labels, particles, tables


def analyze(source, spacing=None, config=None) -> Analysis:
    """Segment a volume and measure it: the whole analysis in one call.

    Parameters
    ----------
    source : path, NumPy/Dask array or Volume
        The grey-value volume (any format :func:`ssbimage.io.open_volume` reads).
    spacing : float or (z, y, x) floats, optional
        Voxel size in µm; default the file's.
    config : dict, TOML path or AnalysisConfig, optional
        Settings (:class:`~ssbimage.pipeline.AnalysisConfig`); ``sample`` is
        the one every user sets (default ``"cathode"``).

    Returns
    -------
    Analysis

    Examples
    --------
    >>> from ssbimage.synth import composite_cathode
    >>> ph = composite_cathode((48, 48, 48), 0.5, seed=3)
    >>> result = analyze(ph.image.data, spacing=0.5, config={"sample": "cathode"})
    >>> sorted(result.labels)
    ['cracks', 'particles', 'phases', 'voids']
    """
    from .. import __version__

    config = load_config(config)
    volume = _open(source, spacing)
    spacing = tuple(float(s) for s in volume.spacing)
    provenance = {"ssbimage": __version__, "source": volume.source, "name": volume.name,
                  "shape": list(volume.shape), "spacing_um": list(spacing), "unit": volume.unit,
                  "config": dataclasses.asdict(config),
                  "started": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    scratch = tempfile.mkdtemp(prefix="ssbimage-", dir=config.scratch_dir)
    try:
        labels, particles, tables = _segment_and_measure(volume, spacing, config, provenance, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # a failed run leaves no checkpoints behind
        raise
    metrics = pd.concat(tables, ignore_index=True)
    metrics["value"] = metrics.value.astype(float)
    provenance["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    result = Analysis(metrics.reset_index(drop=True), particles, labels, spacing, provenance)
    result.scratch = weakref.finalize(result, shutil.rmtree, scratch, True)
    return result
