"""SEM images with EDS element maps, as one labelled container."""

from __future__ import annotations

import dataclasses
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .._spacing import MICROMETRE, VOXEL, check_spacing
from ..errors import (
    CorruptFileError,
    DatasetNotFoundError,
    DimensionError,
    InconsistentSlicesError,
    InputNotFoundError,
    UnsupportedFormatError,
)
from ._tiff import TIFF_SUFFIXES, ome_xml_spacing, imagej_spacing, natural_key

__all__ = ["SemEds", "open_sem_eds", "ELEMENTS"]

ELEMENTS = frozenset("""
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy
Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu
""".split())
# Names that mark the electron image rather than an element map.
_SEM_NAMES = {"sem", "bse", "se", "sei", "bei", "image", "electron", "haadf"}
SEM = "SEM"


@dataclasses.dataclass(frozen=True, eq=False)
class SemEds:
    """A 2D SEM image and its EDS element maps on one pixel grid.

    Parameters
    ----------
    channels : mapping of str to (Y, X) array
        ``"SEM"`` for the electron image (if any) and one entry per element
        symbol (``"Ni"``, ``"S"``, ...) holding counts or intensities.
    spacing : (dy, dx) tuple of float
        Pixel size in µm (``(1, 1)`` with ``unit="voxel"`` when unknown).
    unit : str
        ``"µm"`` or ``"voxel"``.
    source : str, optional
        File or folder the maps were read from.
    metadata : mapping
        Anything else (instrument, per-map file names).

    Examples
    --------
    >>> import numpy as np
    >>> maps = SemEds({"SEM": np.zeros((4, 4)), "Ni": np.ones((4, 4))}, (0.1, 0.1), "µm")
    >>> maps.elements, float(maps["Ni"].sum())
    (('Ni',), 16.0)
    """

    channels: Mapping[str, np.ndarray]
    spacing: tuple[float, float] = (1.0, 1.0)
    unit: str = VOXEL
    source: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = {name: np.shape(a) for name, a in self.channels.items()}
        if not shapes:
            raise DimensionError("no SEM image or element map found", self.source)
        bad = {n: s for n, s in shapes.items() if len(s) != 2}
        if bad:
            raise DimensionError(f"SEM/EDS maps must be 2D images; got {bad}", self.source)
        if len(set(shapes.values())) > 1:
            raise InconsistentSlicesError(f"maps differ in shape: {shapes}", self.source)
        object.__setattr__(self, "channels", MappingProxyType(dict(self.channels)))
        object.__setattr__(self, "spacing", check_spacing(self.spacing, 2, path=self.source))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def elements(self) -> tuple[str, ...]:
        """Element symbols with a map, in reading order."""
        return tuple(n for n in self.channels if n != SEM)

    @property
    def sem(self):
        """The electron (BSE/SE) image, or None."""
        return self.channels.get(SEM)

    @property
    def shape(self) -> tuple[int, int]:
        return np.shape(next(iter(self.channels.values())))

    def __getitem__(self, name: str):
        try:
            return self.channels[name]
        except KeyError:
            raise KeyError(f"no map {name!r}; have {list(self.channels)}") from None

    def stack(self, names=None) -> np.ndarray:
        """(C, Y, X) array of the named channels (default: all, SEM first)."""
        return np.stack([np.asarray(self[n]) for n in (names or self.channels)])


def _channel_name(stem: str) -> str | None:
    """'Ni', 'Ni_Ka1', 'map-Ni' -> 'Ni'; 'BSE', 'sem_image' -> 'SEM'; else None."""
    tokens = [t for t in re.split(r"[\s_\-.]+", stem) if t]
    for t in tokens:
        if t in ELEMENTS:
            return t
    if any(t.lower() in _SEM_NAMES for t in tokens):
        return SEM
    return None


def open_sem_eds(path: str | os.PathLike, spacing=None, *, sem: str | os.PathLike | None = None) -> SemEds:
    """Read an SEM image plus EDS element maps into one :class:`SemEds`.

    Parameters
    ----------
    path : str or os.PathLike
        One of: a folder of 2D TIFFs, one per element, named by the element
        symbol (``Ni.tif``, ``S_Ka1.tif``, ``map-Co.tif``) with the electron
        image named ``SEM``/``BSE``/``SE``; a multi-channel (C, Y, X) TIFF
        whose OME or ImageJ channel names are element symbols; or an Oxford
        AZtec ``.h5oina`` file (window-integral maps and electron images).
    spacing : float or (dy, dx), optional
        Pixel size in µm; wins over the file's metadata.
    sem : str or os.PathLike, optional
        Electron image file, when it is not in the folder or not named so.

    Returns
    -------
    SemEds
        Channels ``"SEM"`` (if present) and one per element symbol.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("no such file or folder", path)
    if path.is_dir():
        channels, found, meta = _read_folder(path)
    elif path.suffix.lower() == ".h5oina":
        channels, found, meta = _read_h5oina(path)
    elif path.suffix.lower() in TIFF_SUFFIXES:
        channels, found, meta = _read_multichannel_tiff(path)
    else:
        raise UnsupportedFormatError(
            "SEM/EDS maps are read from a folder of TIFFs, a multi-channel TIFF or .h5oina", path
        )
    if sem is not None:
        image, sem_spacing = _read_2d_tiff(Path(sem))
        channels = {SEM: image, **{k: v for k, v in channels.items() if k != SEM}}
        found = found or sem_spacing
    if spacing is not None:
        spacing, unit = check_spacing(spacing, 2, path=path), MICROMETRE
    elif found is not None:
        spacing, unit = check_spacing(found, 2, path=path), MICROMETRE
    else:
        spacing, unit = (1.0, 1.0), VOXEL
    return SemEds(channels, spacing, unit, str(path), meta)


def _read_2d_tiff(path: Path):
    import tifffile

    if not path.exists():
        raise InputNotFoundError("no such file", path)
    try:
        with tifffile.TiffFile(path) as tif:
            image = tif.series[0].asarray()
            spacing = _tiff_pixel_size(tif)
    except tifffile.TiffFileError as exc:
        raise CorruptFileError(f"not a readable TIFF ({exc})", path) from exc
    if image.ndim != 2:
        raise DimensionError(
            f"has shape {image.shape}; an SEM image or element map is one 2D image "
            "(open volumes with ssbimage.io.open_volume)", path
        )
    return image, spacing


def _tiff_pixel_size(tif):
    """(dy, dx) in µm from OME or ImageJ metadata, else None."""
    if tif.is_ome and tif.ome_metadata:
        return ome_xml_spacing(tif.ome_metadata, 0, axes="YX")
    if tif.is_imagej:
        return imagej_spacing(tif, axes="YX")
    return None


def _read_folder(folder: Path):
    files = sorted((p for p in folder.iterdir()
                    if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith(".")),
                   key=natural_key)
    channels, spacing, spacing_from, names = {}, None, None, {}
    for f in files:
        name = _channel_name(f.stem)
        if name is None:
            continue
        if name in channels:
            raise InconsistentSlicesError(
                f"two files map to {name!r}: {names[name]} and {f.name}", folder
            )
        channels[name], file_spacing = _read_2d_tiff(f)
        if spacing and file_spacing and not np.allclose(spacing, file_spacing, rtol=1e-6):
            raise InconsistentSlicesError(
                f"{f.name} has pixel size {file_spacing} µm but {names[spacing_from]} has {spacing}",
                folder,
            )
        if file_spacing and not spacing:
            spacing, spacing_from = file_spacing, name
        names[name] = f.name
    if not channels:
        raise UnsupportedFormatError(
            "no TIFF named by an element symbol (e.g. Ni.tif) or SEM/BSE/SE image found", folder
        )
    if SEM in channels:
        channels = {SEM: channels.pop(SEM), **channels}
    return channels, spacing, {"format": "tiff-folder", "files": names}


def _read_multichannel_tiff(path: Path):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            data = tif.series[0].asarray()
            spacing = _tiff_pixel_size(tif)
            names = _tiff_channel_names(tif)
    except tifffile.TiffFileError as exc:
        raise CorruptFileError(f"not a readable TIFF ({exc})", path) from exc
    if data.ndim == 2:
        name = _channel_name(path.stem) or SEM
        return {name: data}, spacing, {"format": "tiff"}
    if data.ndim != 3:
        raise DimensionError(f"has shape {data.shape}; expected (channels, y, x) maps", path)
    if not names or len(names) != data.shape[0]:
        raise DimensionError(
            f"holds {data.shape[0]} channels but no channel names (OME Channel Name or ImageJ "
            "Labels) to tell which element each is; is it a volume? use open_volume", path
        )
    channels = {}
    for name, plane in zip(names, data):
        key = _channel_name(name)
        if key is None:
            raise UnsupportedFormatError(f"channel name {name!r} is not an element symbol or SEM", path)
        channels[key] = plane
    return channels, spacing, {"format": "tiff-multichannel", "channel_names": list(names)}


def _tiff_channel_names(tif) -> list[str] | None:
    if tif.is_ome and tif.ome_metadata:
        root = ET.fromstring(tif.ome_metadata)
        names = [el.attrib.get("Name") for el in root.iter() if el.tag.endswith("Channel")]
        if names and None not in names:
            return names
    if tif.is_imagej:
        labels = (tif.imagej_metadata or {}).get("Labels")
        if labels:
            return list(labels)
    return None


def _read_h5oina(path: Path):
    """Oxford AZtec HDF5: ``/<slice>/EDS/Data/Window Integral/<El line>`` maps."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CorruptFileError(f"not a readable HDF5/.h5oina file ({exc})", path) from exc
    with f:
        try:
            header, data = f["1/EDS/Header"], f["1/EDS/Data"]
            nx, ny = int(_h5_scalar(header["X Cells"])), int(_h5_scalar(header["Y Cells"]))
            spacing = (float(_h5_scalar(header["Y Step"])), float(_h5_scalar(header["X Step"])))
        except KeyError as exc:
            raise DatasetNotFoundError(f"is not an EDS .h5oina map (missing {exc})", path) from None
        except (TypeError, ValueError, IndexError) as exc:
            raise CorruptFileError(f"unreadable .h5oina EDS header ({exc})", path) from None
        channels = {}
        for group in ("Window Integral", "Peak Area"):
            if group in data:
                for name, ds in data[group].items():
                    symbol = _channel_name(name)
                    if symbol and symbol not in channels:
                        channels[symbol] = _flat_map(ds, ny, nx, path)
        for kind in ("BSE", "SE"):
            key = f"1/Electron Image/Data/{kind}"
            if SEM not in channels and key in f:
                first = next(iter(f[key].values()))
                image = np.asarray(first[()])
                if image.size == nx * ny:
                    channels = {SEM: image.reshape(ny, nx), **channels}
    if not channels:
        raise DatasetNotFoundError("has no element maps under 1/EDS/Data/Window Integral", path)
    return channels, spacing, {"format": "h5oina"}


def _h5_scalar(dataset):
    """A header value, stored as shape (), (1,) or (1, 1) depending on the writer."""
    values = np.asarray(dataset[()]).ravel()
    if values.size != 1:
        raise ValueError(f"{dataset.name} holds {values.size} values, expected one")
    return values[0]


def _flat_map(dataset, ny: int, nx: int, path):
    values = np.asarray(dataset[()])
    if values.size != ny * nx:
        raise InconsistentSlicesError(
            f"map {dataset.name} has {values.size} pixels, the header says {ny} × {nx}", path
        )
    return values.reshape(ny, nx)
