"""Scores of a segmentation against a phantom's ground truth, counted chunk by chunk."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd

from .._arrays import as_dask, delayed_blocks, overlap_counts

__all__ = ["phase_dice", "match_instances"]


def _phase_pairs(found, truth, codes):
    return np.array([[np.count_nonzero((found == c) & (truth == c)), np.count_nonzero(found == c),
                      np.count_nonzero(truth == c)] for c in codes], np.int64)


def phase_dice(found, truth, codes=(1, 2, 3, 4, 5)) -> dict:
    """Dice coefficient 2|A∩B| / (|A| + |B|) per phase code (NaN where both are empty).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[[1, 1, 2, 2]]]); found = np.array([[[1, 2, 2, 2]]])
    >>> {k: round(v, 3) for k, v in phase_dice(found, truth, codes=(1, 2)).items()}
    {1: 0.667, 2: 0.8}
    """
    found, truth = as_dask(found), as_dask(truth)
    truth = truth.rechunk(found.chunks)
    parts = [dask.delayed(_phase_pairs)(f, t, tuple(codes))
             for f, t in zip(delayed_blocks(found).ravel(), delayed_blocks(truth).ravel())]
    both, n_found, n_truth = dask.delayed(sum)(parts).compute().T
    total = n_found + n_truth
    return {int(c): (float(2 * b / t) if t else float("nan")) for c, b, t in zip(codes, both, total)}


def match_instances(found, truth, *, min_iou: float = 0.5) -> pd.DataFrame:
    """Pair each true instance with the found instance it overlaps most, with their IoU.

    Parameters
    ----------
    found, truth : (Z, Y, X) integer label arrays (0 = none)
    min_iou : float
        A pair counts as ``matched`` at or above this intersection over
        union; above 0.5 a match is necessarily one-to-one.

    Returns
    -------
    pandas.DataFrame
        One row per true instance: ``truth, voxels, found, iou, matched``
        (``found`` = 0 and ``iou`` = 0 when nothing overlaps it).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[[1, 1, 1, 2, 2, 2]]]); found = np.array([[[3, 3, 0, 0, 0, 5]]])
    >>> match_instances(found, truth)[["truth", "found", "iou", "matched"]].round(2).values.tolist()
    [[1, 3, 0.67, True], [2, 5, 0.33, False]]
    """
    table = overlap_counts(truth, found, either=True).rename(
        columns={"first": "truth", "second": "found", "count": "overlap"})
    truth_size = table.groupby("truth")["overlap"].sum()
    found_size = table.groupby("found")["overlap"].sum()
    pairs = table[(table.truth > 0) & (table.found > 0)].copy()
    pairs["iou"] = pairs.overlap / (truth_size[pairs.truth].to_numpy() + found_size[pairs.found].to_numpy()
                                    - pairs.overlap)
    best = pairs.sort_values(["truth", "iou", "found"], ascending=[True, False, True]).drop_duplicates("truth")
    out = pd.DataFrame({"truth": truth_size.index[truth_size.index > 0]})
    out["voxels"] = truth_size[out.truth].to_numpy()
    out = out.merge(best[["truth", "found", "iou"]], on="truth", how="left").fillna({"found": 0, "iou": 0.0})
    out["found"] = out.found.astype(np.int64)
    out["matched"] = out.iou >= min_iou
    return out
