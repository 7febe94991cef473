"""Zarr v2/v3 arrays and OME-Zarr (NGFF 0.4 and 0.5) images and label images."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np

from .._spacing import length_in_micrometres
from ..errors import CorruptFileError, DatasetNotFoundError, DimensionError, SsbImageError
from ._atomic import atomic_output, check_not_input

NGFF_VERSION = "0.5"
_SPATIAL = ("z", "y", "x")


def _open_group_or_array(path: Path):
    import zarr

    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several types for broken metadata
        raise CorruptFileError(f"not a readable Zarr store ({exc})", path) from exc


def _ome_attrs(attrs) -> dict:
    """NGFF metadata from group attributes: 0.5 nests it under 'ome', 0.4 does not."""
    attrs = dict(attrs)
    return dict(attrs["ome"]) if "ome" in attrs else attrs


def read_zarr(path: Path, *, dataset: str | None = None, level: int = 0):
    """Open a Zarr array or OME-Zarr image; return ``(zarr_array, spacing_or_None, metadata)``."""
    import zarr

    node = _open_group_or_array(path)
    if dataset is not None:
        if not isinstance(node, zarr.Group) or dataset not in node:
            raise DatasetNotFoundError(f"has no Zarr node {dataset!r}", path)
        node = node[dataset]
    if isinstance(node, zarr.Array):
        return node, None, {"format": f"zarr-v{node.metadata.zarr_format}"}
    ome = _ome_attrs(node.attrs)
    multiscales = ome.get("multiscales")
    if not multiscales:
        arrays = sorted(name for name, _ in node.arrays())
        groups = sorted(name for name, _ in node.groups())
        raise DatasetNotFoundError(
            "is a Zarr group without OME-Zarr multiscales metadata; pick an array with "
            f"dataset=... (arrays: {arrays or 'none'}, groups: {groups or 'none'})", path
        )
    ms = multiscales[0]
    version = str(ome.get("version") or ms.get("version") or "0.4")
    datasets = ms.get("datasets", [])
    if level >= len(datasets) or level < 0:
        raise DatasetNotFoundError(
            f"has {len(datasets)} multiscale levels; level={level} does not exist", path
        )
    entry = datasets[level]
    try:
        array = node[entry["path"]]
    except KeyError:
        raise CorruptFileError(f"multiscales lists level {entry['path']!r} but it is missing", path) from None
    axes = [a["name"] if isinstance(a, dict) else a for a in ms.get("axes", [])] or list(
        "tczyx"[-array.ndim:]
    )
    spacing = _ngff_spacing(ms, entry, axes)
    meta = {
        "format": f"ome-zarr-{version}", "axes": "".join(axes), "level": level,
        "levels": len(datasets), "name": ms.get("name", ""),
    }
    if "image-label" in ome:
        meta["image-label"] = ome["image-label"]
    return array, spacing, meta


def _ngff_spacing(ms: dict, entry: dict, axes: list[str]):
    scale = np.ones(len(axes))
    for transforms in (entry.get("coordinateTransformations", []), ms.get("coordinateTransformations", [])):
        for t in transforms:
            if t.get("type") == "scale" and "scale" in t:
                scale = scale * np.asarray(t["scale"], float)
    units = {a["name"]: a.get("unit") for a in ms.get("axes", []) if isinstance(a, dict)}
    out = []
    for name in _SPATIAL:
        if name not in axes:
            return None
        out.append(length_in_micrometres(scale[axes.index(name)], units.get(name)))
    return None if None in out else tuple(out)


def squeeze_to_volume(data: da.Array, axes: str, path) -> da.Array:
    """Drop singleton channel axes; keep (z, y, x) or (t, z, y, x)."""
    keep = []
    for i, name in enumerate(axes):
        if name in "tzyx":
            keep.append(i)
        elif data.shape[i] != 1:
            raise DimensionError(
                f"has a {name!r} axis of length {data.shape[i]} (axes {axes!r}); "
                "open one channel as a volume", path
            )
    index = tuple(slice(None) if i in keep else 0 for i in range(data.ndim))
    return data[index]


# --------------------------------------------------------------------- writing


def _axes_json(ndim: int, unit: str | None) -> list[dict]:
    axes = [{"name": n, "type": "space"} for n in _SPATIAL]
    if unit:
        for a in axes:
            a["unit"] = unit
    if ndim == 4:
        axes.insert(0, {"name": "t", "type": "time"})
    return axes


def _pyramid(data: da.Array, n_levels: int, *, labels: bool) -> list[da.Array]:
    """Halve the spatial axes per level: mean for images, nearest (stride) for labels."""
    levels = [data]
    spatial = range(data.ndim - 3, data.ndim)
    for _ in range(n_levels - 1):
        prev = levels[-1]
        if labels:
            nxt = prev[(slice(None),) * (data.ndim - 3) + (slice(None, None, 2),) * 3]
        else:
            # coarsen needs even lengths and chunks: trim odd ends, use even chunks
            trimmed = prev[tuple(slice(0, (n // 2) * 2) if i in spatial else slice(None)
                                 for i, n in enumerate(prev.shape))]
            trimmed = trimmed.rechunk({i: 128 for i in spatial})
            nxt = da.coarsen(np.mean, trimmed, {i: 2 for i in spatial})
            nxt = nxt.astype(data.dtype) if np.issubdtype(data.dtype, np.floating) else \
                da.round(nxt).astype(data.dtype)
        levels.append(nxt)
    return levels


def _default_levels(shape, chunk: int) -> int:
    """Enough levels that the smallest spatial size fits in about one chunk."""
    n, size = 1, min(shape[-3:])
    while size > chunk and n < 8:
        size //= 2
        n += 1
    return n


def write_ngff_image(
    group_path: Path, data: da.Array, spacing, unit_known: bool, *, name: str,
    chunks, n_levels: int | None, labels: bool, extra_ome: dict | None = None,
) -> None:
    """Write one NGFF 0.5 multiscale image (zarr v3) at ``group_path`` (not atomic)."""
    import zarr

    chunk_edge = 128
    chunks = chunks or tuple(min(chunk_edge, n) for n in data.shape)
    n_levels = n_levels or _default_levels(data.shape, chunk_edge)
    group = zarr.open_group(str(group_path), mode="w", zarr_format=3)
    datasets = []
    for k, level in enumerate(_pyramid(data, n_levels, labels=labels)):
        factor = 2.0**k
        scale = [factor * s for s in spacing]
        translation = [(factor - 1) / 2 * s for s in spacing] if not labels else [0.0] * 3
        if data.ndim == 4:
            scale, translation = [1.0] + scale, [0.0] + translation
        level_chunks = tuple(min(c, n) for c, n in zip(chunks, level.shape))
        arr = group.create_array(
            str(k), shape=level.shape, dtype=level.dtype, chunks=level_chunks,
            compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle"),
            fill_value=0, dimension_names=list("tzyx"[-level.ndim:]),
        )
        da.store(level.rechunk(level_chunks), arr, lock=False)
        transforms = [{"type": "scale", "scale": scale}]
        if any(translation):
            transforms.append({"type": "translation", "translation": translation})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    ome = {
        "version": NGFF_VERSION,
        "multiscales": [{
            "name": name, "axes": _axes_json(data.ndim, "micrometer" if unit_known else None),
            "datasets": datasets,
            "type": "nearest" if labels else "mean",
        }],
    }
    ome.update(extra_ome or {})
    group.attrs["ome"] = ome


def save_ome_zarr(volume, path, *, chunks=None, levels: int | None = None, overwrite: bool = False) -> Path:
    """Write a volume as an OME-Zarr (NGFF 0.5, Zarr v3) multiscale image.

    Parameters
    ----------
    volume : Volume
        The image; its spacing (µm) becomes the level-0 ``scale``.
    path : str or os.PathLike
        Output folder, conventionally ending in ``.ome.zarr``.
    chunks : tuple of int, optional
        Storage chunk shape; default up to 128 voxels per axis.
    levels : int, optional
        Number of pyramid levels (each halves z, y, x; mean-downsampled);
        default: until the smallest axis fits in one chunk.
    overwrite : bool
        Replace an existing output (only once the new one is complete).

    Returns
    -------
    pathlib.Path
        The final path. Nothing exists there until the write has finished.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ssbimage import Volume
    >>> from ssbimage.io import open_volume
    >>> vol = Volume.from_array(np.zeros((8, 8, 8), np.uint16), spacing=0.5)
    >>> out = save_ome_zarr(vol, os.path.join(tempfile.mkdtemp(), "v.ome.zarr"))
    >>> open_volume(out).spacing
    (0.5, 0.5, 0.5)
    """
    path = Path(path)
    check_not_input(path, volume.source)
    with atomic_output(path, overwrite=overwrite) as tmp:
        write_ngff_image(tmp, volume.data, volume.spacing, volume.spacing_known,
                         name=volume.name or path.name.split(".")[0], chunks=chunks,
                         n_levels=levels, labels=False)
    return path


def save_ome_zarr_labels(labels, image_path, name: str, *, spacing=None, chunks=None,
                         levels: int | None = None, colors: dict[int, tuple] | None = None,
                         overwrite: bool = False) -> Path:
    """Add a label image to an OME-Zarr image, under ``labels/<name>`` (NGFF labels spec).

    Parameters
    ----------
    labels : (Z, Y, X) integer array or Volume
        Label image (0 = background), e.g. the phase map or particle labels.
    image_path : str or os.PathLike
        An existing OME-Zarr image written by :func:`save_ome_zarr`.
    name : str
        Name of the label image (``"phases"``, ``"particles"``, ...).
    spacing : tuple of float, optional
        Voxel size in µm; default that of ``labels`` if it is a Volume, else
        that of the image's level 0.
    colors : dict of int to RGBA tuple, optional
        Display colours per label value (0–255 each).
    """
    import zarr

    from ..volume import Volume

    image_path = Path(image_path)
    image, image_spacing, meta = read_zarr(image_path)
    if isinstance(labels, Volume):
        spacing = spacing or (labels.spacing if labels.spacing_known else None)
        labels = labels.data
    data = labels if isinstance(labels, da.Array) else da.from_array(np.asarray(labels))
    if not np.issubdtype(data.dtype, np.integer):
        raise SsbImageError(f"label images must be integer, got {data.dtype}", image_path)
    if tuple(data.shape) != tuple(image.shape):
        raise DimensionError(
            f"label image shape {data.shape} differs from the image shape {image.shape}", image_path
        )
    if spacing is None:
        spacing = image_spacing
    labels_dir = image_path / "labels"
    if not (labels_dir / "zarr.json").exists():
        zarr.open_group(str(labels_dir), mode="w", zarr_format=3).attrs["ome"] = {
            "version": NGFF_VERSION, "labels": []}
    image_label = {"source": {"image": "../../"}}
    if colors:
        image_label["colors"] = [{"label-value": int(k), "rgba": [int(c) for c in v]}
                                 for k, v in colors.items()]
    with atomic_output(labels_dir / name, overwrite=overwrite) as tmp:
        write_ngff_image(tmp, data, spacing or (1.0, 1.0, 1.0), spacing is not None, name=name,
                         chunks=chunks, n_levels=levels or meta.get("levels"), labels=True,
                         extra_ome={"image-label": image_label})
    _add_label_name(labels_dir, name)
    return labels_dir / name


def _add_label_name(labels_dir: Path, name: str) -> None:
    """Register ``name`` in labels/zarr.json, replacing the file atomically."""
    meta_path = labels_dir / "zarr.json"
    meta = json.loads(meta_path.read_text())
    ome = meta.setdefault("attributes", {}).setdefault("ome", {"version": NGFF_VERSION})
    names = ome.setdefault("labels", [])
    if name not in names:
        names.append(name)
        with atomic_output(meta_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(meta, indent=2))
