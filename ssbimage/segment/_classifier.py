"""A trainable voxel classifier for data where grey-level thresholds fail.

Multiscale features (Gaussian, gradient magnitude, Hessian eigenvalues,
difference of Gaussians) are computed chunk by chunk with a halo of
``ceil(4 σ_max)`` voxels, a random forest learns them from sparse
annotations (a label image where 0 = not annotated, as painted in napari),
and prediction runs chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from .._arrays import as_dask
from ..errors import SsbImageError

__all__ = ["PixelClassifier", "multiscale_features", "load_classifier"]


def symmetric_eigenvalues(a, b, c, d, e, f):
    """Eigenvalues (ascending) of symmetric 3×3 matrices [[a, d, e], [d, b, f], [e, f, c]],
    element-wise, in closed form (trigonometric solution of the characteristic cubic);
    3–4× faster than ``numpy.linalg.eigvalsh`` on stacks of 3×3 matrices, same to 1e-12."""
    q = (a + b + c) / 3
    p1 = d**2 + e**2 + f**2
    p = np.sqrt(((a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * p1) / 6)
    safe = np.where(p > 0, p, 1)
    ba, bb, bc = (a - q) / safe, (b - q) / safe, (c - q) / safe
    bd, be, bf = d / safe, e / safe, f / safe
    r = 0.5 * (ba * (bb * bc - bf**2) - bd * (bd * bc - bf * be) + be * (bd * bf - bb * be))
    phi = np.arccos(np.clip(r, -1, 1)) / 3
    largest = q + 2 * p * np.cos(phi)
    smallest = q + 2 * p * np.cos(phi + 2 * np.pi / 3)
    return smallest, 3 * q - largest - smallest, largest


def _features(block: np.ndarray, sigmas) -> np.ndarray:
    """(Z, Y, X, F) float32 features of one (padded) block."""
    block = block.astype(np.float32)
    out = [block]
    previous = None
    for s in sigmas:
        smooth = ndimage.gaussian_filter(block, s, mode="nearest")
        gradient = np.sqrt(sum(g**2 for g in np.gradient(smooth)))
        first = np.gradient(smooth)
        hxx, hxy, hxz = np.gradient(first[0])
        hyy, hyz = np.gradient(first[1], axis=(1, 2))
        hzz = np.gradient(first[2], axis=2)
        out += [smooth, gradient, *symmetric_eigenvalues(hxx, hyy, hzz, hxy, hxz, hyz)]
        if previous is not None:
            out.append(previous - smooth)  # difference of Gaussians
        previous = smooth
    return np.stack(out, axis=-1).astype(np.float32)


def multiscale_features(image, sigmas=(0.7, 1.5, 3.0)) -> da.Array:
    """Per-voxel feature stack, chunk by chunk.

    Parameters
    ----------
    image : (Z, Y, X) array or Volume
    sigmas : sequence of float
        Scales in voxels.

    Returns
    -------
    (Z, Y, X, F) dask array of float32
        F = 1 + 6 per scale - 1 (grey value; per scale Gaussian, gradient
        magnitude, three Hessian eigenvalues; differences of successive Gaussians).

    Notes
    -----
    Halo ``ceil(4 max(sigmas)) + 2`` voxels (the +2 for the finite differences).
    """
    data = as_dask(image)
    halo = math.ceil(4 * max(sigmas)) + 2
    n_features = 1 + 6 * len(sigmas) - 1
    if min(data.shape) <= halo:  # smaller than the halo: one block, edges continued
        padded = np.pad(np.asarray(data), halo, mode="edge")
        inner = tuple(slice(halo, halo + n) for n in data.shape)
        return da.from_array(_features(padded, sigmas)[inner], chunks=data.chunks + ((n_features,),))
    # every chunk at least as deep as the halo, so neighbours can supply it
    data = data.rechunk(tuple(da.overlap.ensure_minimum_chunksize(halo, c) for c in data.chunks))
    padded = da.overlap.overlap(data, depth=halo, boundary="nearest")

    def compute(block):
        inner = tuple(slice(halo, n - halo) for n in block.shape)
        return _features(block, sigmas)[inner]

    return padded.map_blocks(compute, dtype=np.float32, new_axis=3,
                             chunks=data.chunks + ((n_features,),))


@dataclasses.dataclass
class PixelClassifier:
    """Random-forest voxel classifier on multiscale features.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((16, 16, 16), np.float32); image[:, :, 8:] = 100
    >>> scribbles = np.zeros(image.shape, np.uint8)
    >>> scribbles[:, :, 2], scribbles[:, :, 13] = 1, 2
    >>> clf = PixelClassifier(n_estimators=10).fit(image, scribbles)
    >>> clf.predict(image)[8, 8, [0, 15]].compute().tolist()
    [1, 2]
    """

    sigmas: tuple = (0.7, 1.5, 3.0)
    n_estimators: int = 60
    max_depth: int | None = 14
    seed: int = 0
    forest: object = None

    def fit(self, image, annotations) -> PixelClassifier:
        """Learn from the annotated voxels (label image, 0 = not annotated)."""
        from sklearn.ensemble import RandomForestClassifier

        data, labels = as_dask(image), as_dask(annotations)
        if data.shape != labels.shape:
            raise ValueError(f"annotations {labels.shape} do not match the image {data.shape}")
        features = multiscale_features(data, self.sigmas)
        labels = labels.rechunk(features.chunks[:3])
        f_blocks = features.to_delayed().reshape(labels.numblocks)
        l_blocks = labels.to_delayed()

        @dask.delayed
        def samples(f, lab):
            keep = lab > 0
            return f[keep], lab[keep]

        # only chunks with annotations compute features
        has = [int(v) for v in dask.compute(*[dask.delayed(np.count_nonzero)(b)
                                               for b in l_blocks.ravel()])]
        pairs = dask.compute(*[samples(f, lab) for f, lab, n
                               in zip(f_blocks.ravel(), l_blocks.ravel(), has) if n])
        if not pairs:
            raise ValueError("the annotations are empty: paint some voxels of each class")
        x = np.concatenate([p[0] for p in pairs])
        y = np.concatenate([p[1] for p in pairs])
        if len(np.unique(y)) < 2:
            raise ValueError("annotate at least two classes")
        self.forest = RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                             n_jobs=1, random_state=self.seed).fit(x, y)
        return self

    def predict(self, image) -> da.Array:
        """Class of every voxel (the annotation values), chunk by chunk; uint8."""
        if self.forest is None:
            raise ValueError("the classifier is not trained: call fit first")
        data = as_dask(image)
        features = multiscale_features(data, self.sigmas)
        forest = self.forest

        def classify(block):
            flat = block.reshape(-1, block.shape[-1])
            return forest.predict(flat).reshape(block.shape[:-1]).astype(np.uint8)

        return features.map_blocks(classify, drop_axis=3, dtype=np.uint8).rechunk(data.chunks)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier with joblib (a pickle: load only files you trust)."""
        import joblib

        path = Path(path)
        joblib.dump({"format": "ssbimage-pixel-classifier", "version": 1,
                     "classifier": self}, path)
        return path


def load_classifier(path: str | os.PathLike, *, trust: bool = False) -> PixelClassifier:
    """Read a classifier saved by :meth:`PixelClassifier.save`.

    The file is a pickle, and unpickling runs code the file names. ssbimage
    therefore refuses unless ``trust=True`` says you made the file yourself
    or got it from someone you trust.
    """
    import joblib

    path = Path(path)
    if not trust:
        raise SsbImageError(
            "a saved classifier is a pickle, which can run code when loaded; pass trust=True "
            "only for a file you made or got from someone you trust", path)
    try:
        content = joblib.load(path)
    except Exception as exc:  # unpickling raises whatever the bytes provoke
        raise SsbImageError(f"not an ssbimage classifier file ({exc})", path) from exc
    if not isinstance(content, dict) or content.get("format") != "ssbimage-pixel-classifier":
        raise SsbImageError("not an ssbimage classifier file", path)
    return content["classifier"]
