"""Lithium dendrites: filaments of Li metal grown from the anode into the electrolyte."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
from scipy import ndimage

from .._arrays import as_dask, delayed_blocks
from .._spacing import check_spacing
from ._label import keep_labels, label

__all__ = ["segment_dendrites"]

LITHIUM = 5
CRACK = 4


def _boxes(block, location, n):
    """Per label 1..n: (min z, min y, min x, max z, max y, max x) inside one chunk."""
    out = np.full((n, 6), -1, np.int64)
    for k, found in enumerate(ndimage.find_objects(block, max_label=n)):
        if found is not None:
            out[k] = [s.start + o for s, o in zip(found, location)] + \
                     [s.stop - 1 + o for s, o in zip(found, location)]
    return out


def _merge_boxes(parts):
    parts = np.stack(parts)
    present = parts[..., 0] >= 0
    low = np.where(present[..., None], parts[..., :3], np.iinfo(np.int64).max).min(axis=0)
    high = np.where(present[..., None], parts[..., 3:], -1).max(axis=0)
    return np.concatenate([low, high], axis=1)


def _skeleton_stats(mask, spacing):
    """Skeleton length (µm) and branch points of one dendrite (skan on its skeleton)."""
    from skan import Skeleton, summarize
    from skan.csr import make_degree_image
    from skimage.morphology import skeletonize

    skeleton = skeletonize(np.pad(mask, 1))
    # a voxel with no skeleton neighbour counts one voxel of length; skan cannot
    # build a graph from such voxels alone (lithium joined only through a crack
    # can leave scattered bits)
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3, 3), np.uint8),
                                  mode="constant") - 1
    isolated = skeleton & (neighbours == 0)
    skeleton &= ~isolated
    alone = float(np.count_nonzero(isolated) * min(spacing))
    if not skeleton.any():
        return alone, 0
    graph = Skeleton(skeleton, spacing=spacing)
    branches = summarize(graph, separator="_")
    # adjacent junction voxels are one branch point
    junctions = ndimage.label(make_degree_image(skeleton) >= 3, np.ones((3, 3, 3)))[1]
    return float(branches["branch_distance"].sum()) + alone, int(junctions)


def segment_dendrites(phases, *, spacing, lithium: int = LITHIUM, connectivity: int = 26,
                      min_penetration: float | None = None, bridges=(CRACK,)):
    """Find dendrites: lithium above the Li-metal layer that is connected to it.

    The Li-metal layer lies at the bottom of the z axis (as ssbimage's anode
    phantoms and most cell scans are oriented). Its surface is the highest
    z-slice that is still at least half lithium; every connected group of
    lithium voxels above it that touches the layer is one dendrite. Dark
    features that are not lithium (pores, stripping voids) and lithium islands
    not joined to the layer are not dendrites.

    Parameters
    ----------
    phases : (Z, Y, X) uint8 array or Volume
        Phase map with the DESIGN.md codes (5 = lithium metal / dendrite).
    spacing : float or (3,) floats
        Voxel size in µm.
    lithium : int
        Phase code of lithium.
    connectivity : {6, 18, 26}
    min_penetration : float, optional
        Lithium that reaches no farther than this above the surface (µm) is
        surface roughness or the surface's partial-volume fringe, not a
        dendrite (default two voxels along z).
    bridges : tuple of int
        Phases through which lithium may be joined to the layer without
        being part of the dendrite: electrolyte cracks (4), along which
        dendrites grow and where the thin lithium at a crack's root is
        easily taken for the crack. ``()`` joins through lithium only.

    Returns
    -------
    labels : (Z, Y, X) dask array of uint32
        Dendrites 1..n (raster order of their first voxel; chunk-invariant).
    table : pandas.DataFrame
        ``label, voxels, volume_um3, penetration_um`` (top of the highest
        voxel above the Li surface), ``length_um`` (skeleton length, skan),
        ``branch_points``; ``interface_um`` in ``table.attrs``.

    Notes
    -----
    Labelling is chunked (:func:`ssbimage.segment.label`); skeletons are
    analysed one dendrite at a time on its bounding box.
    """
    spacing = check_spacing(spacing, 3)
    phases = as_dask(phases)
    is_li = phases == lithium
    share = (is_li.sum(axis=(1, 2)) / (phases.shape[1] * phases.shape[2])).compute()
    layer = np.flatnonzero(share >= 0.5)
    if not len(layer) or layer[0] != 0:
        raise ValueError("no lithium layer at the bottom of the z axis (z = 0)")
    top = int(layer[-1] if np.all(np.diff(layer) == 1) else np.flatnonzero(np.diff(layer) > 1)[0])
    interface_um = (top + 0.5) * spacing[0]
    z = da.arange(phases.shape[0], chunks=phases.chunks[0])[:, None, None]
    conducting = (is_li | da.isin(phases, list(bridges))) if bridges else is_li
    labels, n = label(conducting & (z > top), connectivity=connectivity)
    n = int(n.compute())
    columns = ["label", "voxels", "volume_um3", "penetration_um", "length_um", "branch_points"]
    if top + 1 >= phases.shape[0]:
        return labels, pd.DataFrame(columns=columns)
    first_row, below = dask.compute(labels[top + 1], is_li[top])
    labels = da.where(is_li, labels, np.uint32(0))  # bridges join lithium, they are not dendrite
    footprint = np.ones((3, 3), bool) if connectivity == 26 else ndimage.generate_binary_structure(2, 1)
    touching = first_row[ndimage.binary_dilation(below, footprint) & (first_row > 0)]
    keep = np.zeros(n + 1, bool)
    keep[np.unique(touching)] = True
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in labels.chunks]
    boxes = dask.delayed(_merge_boxes)([  # of the lithium of every component; max z = -1 if none
        dask.delayed(_boxes)(block, tuple(int(starts[a][idx[a]]) for a in range(3)), n)
        for idx, block in zip(np.ndindex(*labels.numblocks), delayed_blocks(labels).ravel())
    ]).compute() if n else np.empty((0, 6), int)
    min_penetration = 2 * spacing[0] if min_penetration is None else float(min_penetration)
    keep[1:] &= (boxes[:, 3] - top) * spacing[0] > min_penetration
    dendrites = keep_labels(labels, keep)
    boxes = boxes[keep[1:]]  # keep_labels numbers the kept labels in their order
    rows = []
    for k, box in enumerate(boxes, start=1):
        region = tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(box[:3], box[3:]))
        mask = (dendrites[region] == k).compute()
        length, branch_points = _skeleton_stats(mask, spacing)
        voxels = int(np.count_nonzero(mask))
        rows.append({"label": k, "voxels": voxels, "volume_um3": voxels * float(np.prod(spacing)),
                     "penetration_um": (box[3] + 0.5) * spacing[0] - interface_um,
                     "length_um": length, "branch_points": branch_points})
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["interface_um"] = interface_um
    return dendrites, table
