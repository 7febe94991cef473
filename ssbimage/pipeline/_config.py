"""Analysis settings: a dict or a TOML file, validated the same way (data, never code)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from ..errors import SsbImageError

__all__ = ["AnalysisConfig", "ConfigError", "load_config"]

SAMPLES = ("cathode", "anode", "full-cell")


class ConfigError(SsbImageError, ValueError):
    """An analysis setting is missing, unknown or of the wrong kind."""


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """What :func:`ssbimage.analyze` does; every field has a TOML key of the same name.

    Parameters
    ----------
    sample : {"cathode", "anode", "full-cell"}
        The cell part imaged: fixes the phases and which instances are found.
    denoise_sigma : float
        σ of the Gaussian applied before thresholding, µm (0 = none).
    thresholds : list of float, optional
        Manual grey-level thresholds, dark to bright; default multi-Otsu on
        the whole volume's histogram.
    partial_volume : bool
        With thresholds on a cathode or full cell, reassign the electrolyte
        that blur draws between particles and voids
        (:func:`ssbimage.segment.between_phases`); no effect with two phases
        (anode). Off by default: on the benchmark's 256³ cathode tile it
        brings the contact fraction from 1.000 to 0.888 (truth 0.870) and the
        contact area from +10.4 % to +0.9 % of the truth, but the void
        fraction from 0.040 to 0.052 (truth 0.032).
    classifier : str, optional
        A saved :class:`ssbimage.segment.PixelClassifier` (joblib) used instead of thresholds.
    trust_classifier : bool
        Must be true to load ``classifier``: it is a pickle, which can run code.
    min_void_volume : float
        Smaller voids are dropped, µm³.
    min_crack_volume : float
        A particle holding less crack than this is not cracked, and smaller
        crack components are not counted, µm³: a few misread voxels are not
        a crack. The default, 2 µm³, is 16 voxels of 0.5 µm: on the bundled
        cathode 57 of 60 predicted crack components under it touch no true
        crack, and the cracked particle fraction reads 0.23 (truth 0.20)
        instead of 0.36.
    surface_smoothing : float
        σ of the surface normals of the area estimator, voxels
        (:func:`ssbimage.measure.interface_areas`).
    tortuosity : bool
        Solve the electrolyte's through-thickness tortuosity factor (cathode,
        full cell) when the volume has at most ``tortuosity_max_voxels``: the
        solve is in memory (about 30 s and 1 GiB at 128³).
    tortuosity_max_voxels : int
    chunk_size : int
        Edge, in voxels, of the blocks the volume is processed in, whatever
        the file's own chunking (Dask's "auto" reads a 512³ uint16 scan as
        384³ blocks). Peak memory grows with it: about 2 GiB on 2 workers at
        128 (docs/performance.md); the particle step widens its blocks to 8
        halos on its own.
    scratch_dir : str, optional
        Where the phase map and particle labels are checkpointed as Zarr
        during the run (default the system's temporary folder); they take
        about 5 bytes per voxel.
    """

    sample: str
    denoise_sigma: float = 0.5
    thresholds: tuple | None = None
    partial_volume: bool = False
    classifier: str | None = None
    trust_classifier: bool = False
    min_void_volume: float = 0.0
    min_crack_volume: float = 2.0
    surface_smoothing: float = 2.0
    tortuosity: bool = True
    tortuosity_max_voxels: int = 2 ** 22
    chunk_size: int = 128
    scratch_dir: str | None = None


_KINDS = {"sample": (str,), "denoise_sigma": (int, float), "thresholds": (list, tuple), "partial_volume": (bool,),
          "classifier": (str, os.PathLike), "trust_classifier": (bool,),
          "min_void_volume": (int, float), "min_crack_volume": (int, float), "surface_smoothing": (int, float),
          "tortuosity": (bool,), "tortuosity_max_voxels": (int,), "chunk_size": (int,),
          "scratch_dir": (str, os.PathLike)}


def load_config(config=None, *, where=None) -> AnalysisConfig:
    """An :class:`AnalysisConfig` from a dict, a TOML path or a config (``None`` = cathode)."""
    if isinstance(config, AnalysisConfig):
        return config
    if config is None:
        config = {"sample": "cathode"}
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("config file not found", path) from None
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"not valid TOML: {error}", path) from None
        where = path
    if not isinstance(config, dict):
        raise ConfigError(f"config must be a dict, a TOML path or an AnalysisConfig, not {type(config).__name__}")
    unknown = sorted(set(config) - set(_KINDS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KINDS)}", where)
    if "sample" not in config:
        raise ConfigError(f"the setting 'sample' is required: one of {', '.join(SAMPLES)}", where)
    for key, value in config.items():
        kinds = _KINDS[key]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ConfigError(f"'{key}' must be {' or '.join(k.__name__ for k in kinds)}, "
                              f"got {value!r}", where)
    if config["sample"] not in SAMPLES:
        raise ConfigError(f"'sample' must be one of {', '.join(SAMPLES)}, got {config['sample']!r}", where)
    values = dict(config)
    if values.get("thresholds") is not None:
        values["thresholds"] = tuple(float(t) for t in values["thresholds"])
    for key in ("classifier", "scratch_dir"):
        if key in values:
            values[key] = os.fspath(values[key])
    for key in ("denoise_sigma", "min_void_volume", "min_crack_volume", "surface_smoothing"):
        if key in values and values[key] < 0:
            raise ConfigError(f"'{key}' must not be negative, got {values[key]}", where)
    if values.get("chunk_size", 128) < 16:
        raise ConfigError(f"'chunk_size' must be at least 16 voxels, got {values['chunk_size']}", where)
    return AnalysisConfig(**values)
