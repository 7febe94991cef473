"""TIFF volumes: multi-page / BigTIFF / OME-TIFF / ImageJ stacks and folders of slices."""

from __future__ import annotations

import glob
import logging
import re
import struct
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._spacing import length_in_micrometres
from ..errors import CorruptFileError, DimensionError, InconsistentSlicesError, UnsupportedFormatError
from ._sources import SliceStackSource, TiffSource

TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8")


@contextmanager
def _tifffile_problems(path):
    """Collect what tifffile only logs (bad IFD offsets, broken metadata)."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("tifffile")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    previous, logger.propagate = logger.propagate, False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous


def _is_damage(message: str) -> bool:
    return any(word in message.lower() for word in ("invalid", "corrupt", "truncat"))


def read_tiff(path: Path, *, series: int = 0, level: int = 0):
    """Open a TIFF series lazily; return ``(source, spacing_um_or_None, metadata)``."""
    import tifffile

    with _tifffile_problems(path) as problems:
        try:
            with tifffile.TiffFile(path) as tif:
                if series >= len(tif.series):
                    raise CorruptFileError(
                        f"has {len(tif.series)} image series, series={series} asked for", path
                    )
                ser = tif.series[series]
                levels = ser.levels
                if level >= len(levels):
                    raise CorruptFileError(
                        f"series {series} has {len(levels)} pyramid levels, level={level} asked for",
                        path,
                    )
                ser = levels[level]
                _check_complete(path, tif, ser)
                spacing = _tiff_spacing(tif, series, level)
                metadata = {"format": _tiff_kind(tif), "axes": ser.axes, "series": series,
                            "level": level, "levels": len(levels)}
                shape, axes, dtype = ser.shape, ser.axes, ser.dtype
        except (tifffile.TiffFileError, struct.error, EOFError) as exc:
            raise CorruptFileError(f"not a readable TIFF ({exc})", path) from exc
    damage = [m for m in problems if _is_damage(m)]
    if damage:
        raise CorruptFileError(f"damaged or truncated TIFF ({damage[0]})", path)
    if "S" in axes or "C" in axes:
        raise DimensionError(
            f"has colour/channel axes {axes!r} (shape {shape}); a volume is greyscale z, y, x", path
        )
    return TiffSource(str(path), shape, dtype, series, level), spacing, metadata


def _tiff_kind(tif) -> str:
    for kind in ("ome", "imagej", "shaped"):
        if getattr(tif, f"is_{kind}", False):
            return f"{kind}-tiff" if kind != "shaped" else "tiff"
    return "tiff"


def _check_complete(path, tif, ser) -> None:
    """Raise if the pixel data of the series run past the end of the file."""
    size = tif.filehandle.size
    if ser.dataoffset is not None:
        end = ser.dataoffset + ser.nbytes
    else:
        page = ser.pages[-1] if len(ser.pages) else None
        page = page.keyframe if page is not None and not hasattr(page, "dataoffsets") else page
        if page is None or not page.dataoffsets:
            return
        end = max(o + n for o, n in zip(page.dataoffsets, page.databytecounts))
    if end > size:
        raise CorruptFileError(
            f"truncated TIFF: pixel data should end at byte {end} but the file has {size} bytes",
            path,
        )


def imagej_spacing(tif, axes: str = "ZYX"):
    """Spacing in µm from ImageJ resolution tags (y, x) and ``spacing`` (z), else None."""
    meta = tif.imagej_metadata or {}
    unit = meta.get("unit")
    tags = tif.pages.first.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None
    sizes = {"Z": float(meta.get("spacing", 1.0))}
    for axis in "YX":
        pixels_per_unit, per = tags[f"{axis}Resolution"].value
        sizes[axis] = per / pixels_per_unit if pixels_per_unit else float("nan")
    out = [length_in_micrometres(sizes[a], unit) for a in axes]
    return None if None in out else tuple(out)


def _tiff_spacing(tif, series: int, level: int):
    """(z, y, x) spacing in µm from OME-XML or ImageJ metadata, else None."""
    if tif.is_ome and tif.ome_metadata:
        spacing = ome_xml_spacing(tif.ome_metadata, series)
        if spacing is not None and level:
            page0 = tif.series[series].levels[0].shape
            pagel = tif.series[series].levels[level].shape
            spacing = (spacing[0], spacing[1] * page0[-2] / pagel[-2], spacing[2] * page0[-1] / pagel[-1])
        return spacing
    if tif.is_imagej:
        return imagej_spacing(tif)
    # Plain TIFF resolution tags are usually a meaningless 72 dpi: not trusted.
    return None


def ome_xml_spacing(xml: str, series: int, axes: str = "ZYX"):
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = [el for el in root.iter() if el.tag.endswith("}Pixels") or el.tag == "Pixels"]
    if series >= len(pixels):
        return None
    attrib = pixels[series].attrib
    out = []
    for axis in axes:
        value = attrib.get(f"PhysicalSize{axis}")
        if value is None:
            return None
        out.append(length_in_micrometres(float(value), attrib.get(f"PhysicalSize{axis}Unit", "µm")))
    return None if None in out else tuple(out)


_DIGITS = re.compile(r"(\d+)")


def natural_key(path: Path):
    """Sort key so that ``slice_2.tif`` comes before ``slice_10.tif``."""
    return [int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(path.name)]


def read_slice_stack(files: list[Path], where: Path):
    """Open 2D TIFF slices (already sorted) as one lazy (z, y, x) stack.

    Only the headers are read here; each dask chunk later reads its own slices.
    """
    import tifffile

    shape = dtype = None
    for f in files:
        try:
            with tifffile.TiffFile(f) as tif:
                page = tif.series[0]
                f_shape, f_dtype = page.shape, page.dtype
        except Exception as exc:
            raise CorruptFileError(f"cannot read slice ({exc})", f) from exc
        if len(f_shape) != 2:
            raise InconsistentSlicesError(
                f"slice {f.name} has shape {f_shape}; every slice must be one 2D greyscale image",
                where,
            )
        if shape is None:
            shape, dtype, first = f_shape, f_dtype, f
        elif f_shape != shape or f_dtype != dtype:
            raise InconsistentSlicesError(
                f"slice {f.name} is {f_shape} {f_dtype} but {first.name} is {shape} {dtype}", where
            )
    source = SliceStackSource([str(f) for f in files], (len(files),) + tuple(shape), dtype)
    return source, {"format": "tiff-slices", "slices": len(files)}


def list_slices(folder_or_glob: Path) -> list[Path]:
    """TIFF files in a folder, or matching a glob, in natural order."""
    if folder_or_glob.is_dir():
        files = [p for p in folder_or_glob.iterdir() if p.suffix.lower() in TIFF_SUFFIXES]
    else:
        files = [Path(p) for p in glob.glob(str(folder_or_glob))]
    files = [p for p in files if p.is_file() and not p.name.startswith(".")]
    if folder_or_glob.is_dir() and not files:
        raise UnsupportedFormatError("folder holds no .tif/.tiff slices", folder_or_glob)
    return sorted(files, key=natural_key)


def write_ome_tiff(volume, path: Path) -> None:
    """Write a volume as (Big)OME-TIFF, one z-chunk in memory at a time."""
    import tifffile

    data = volume.data
    if data.ndim != 3:
        raise DimensionError(f"OME-TIFF export takes a (z, y, x) volume, got shape {data.shape}", path)
    metadata = {"axes": "ZYX", "Name": volume.name or path.stem}
    if volume.spacing_known:
        dz, dy, dx = volume.spacing
        metadata.update(PhysicalSizeZ=dz, PhysicalSizeY=dy, PhysicalSizeX=dx,
                        PhysicalSizeZUnit="µm", PhysicalSizeYUnit="µm", PhysicalSizeXUnit="µm")

    def planes():
        for slab in _z_blocks(data):
            yield from slab

    tifffile.imwrite(
        path, data=planes(), shape=data.shape, dtype=data.dtype, ome=True,
        bigtiff=data.nbytes > 2**31, metadata=metadata, photometric="minisblack",
    )


def _z_blocks(data):
    """Compute full-plane slabs, one z-chunk at a time."""
    slab = data.rechunk({1: -1, 2: -1})
    start = 0
    for depth in slab.chunks[0]:
        yield np.asarray(slab[start:start + depth].compute())
        start += depth
