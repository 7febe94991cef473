"""A trainable voxel classifier for data where grey-level thresholds fail.

Multiscale features (Gaussian, gradient magnitude, Hessian eigenvalues and
optionally their contrast-free ratios, difference of Gaussians) are computed
chunk by chunk with a halo of ``ceil(4 σ_max) + 2`` voxels, a random forest
learns them from sparse annotations (a label image where 0 = not annotated,
as painted in napari), a second forest learns them again with the first one's smoothed class
probabilities as context (halo ``ceil(4 σ_context) + 2`` more), and
prediction runs chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dask
import dask.array as da
import numpy as np

from .._arrays import as_dask, delayed_blocks
from ..errors import SsbImageError
from ._features import _context_block, _features, _padded_map, filter_halo, multiscale_features

__all__ = ["PixelClassifier", "multiscale_features", "load_classifier"]


def _volume_faces(block_info) -> list:
    """Per axis, whether the block's low and high sides are the volume's faces (all of
    them for a block given without ``block_info``, the whole volume padded at once)."""
    if block_info is None:
        return [(True, True)] * 3
    where, count = block_info[0]["chunk-location"], block_info[0]["num-chunks"]
    return [(where[a] == 0, where[a] == count[a] - 1) for a in range(3)]


def _probabilities(block, learner, n_classes, columns):
    flat = block.reshape(-1, block.shape[-1])
    out = np.zeros((len(flat), n_classes), np.float32)
    out[:, columns] = learner.predict_proba(flat)
    return out.reshape(block.shape[:-1] + (n_classes,))


class VoxelNetwork:
    """Small neural networks (multilayer perceptrons) on standardised voxel features, averaged.

    Each is trained by scikit-learn's ``MLPClassifier`` (ReLU, Adam, early
    stopping on a tenth of the samples) from its own random start, and the
    class probabilities of the ``members`` are averaged. Prediction runs in
    float32 with the standardisation folded into the first layer, a quarter
    of a million voxels at a time. (Holding BLAS to one thread per block, as
    the blocks already run one per core, changed nothing: a 256³ volume on two
    threads in 66.3 and 60.6 s with, 66.4 and 59.0 s without.)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 3))
    >>> y = (x[:, 0] > 0).astype(int)
    >>> network = VoxelNetwork((8,), members=2).fit(x, y)
    >>> bool((network.predict_proba(x).argmax(axis=1) == y).mean() > 0.95)
    True
    """

    ROWS = 1 << 18  # voxels per matrix product: 64 MiB of hidden units at 64 per layer

    def __init__(self, hidden_layers=(64, 32), members=3, seed=0):
        self.hidden_layers, self.members, self.seed = tuple(hidden_layers), int(members), seed

    def fit(self, x, y) -> VoxelNetwork:
        from sklearn.neural_network import MLPClassifier

        x = np.asarray(x, np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1
        self.layers = []
        for member in range(self.members):
            network = MLPClassifier(self.hidden_layers, max_iter=300, early_stopping=True,
                                    random_state=self.seed + member).fit((x - mean) / scale, y)
            first, *rest = network.coefs_
            # (x - mean) / scale @ W + b  ==  x @ (W / scale) + (b - (mean / scale) @ W)
            weights = [first / scale[:, None]] + rest
            biases = [network.intercepts_[0] - (mean / scale) @ first] + network.intercepts_[1:]
            self.layers.append([(w.astype(np.float32), b.astype(np.float32)) for w, b in zip(weights, biases)])
        self.output = network.out_activation_  # "softmax", or "logistic" for two classes
        self.classes_ = network.classes_
        return self

    def predict_proba(self, x) -> np.ndarray:
        from scipy.special import expit

        x = np.asarray(x, np.float32)
        out = np.zeros((len(x), len(self.classes_)), np.float32)
        for start in range(0, len(x), self.ROWS):
            part = out[start:start + self.ROWS]
            for layers in self.layers:
                h = x[start:start + self.ROWS]
                for w, b in layers[:-1]:
                    h = h @ w
                    h += b
                    np.maximum(h, 0, out=h)
                w, b = layers[-1]
                h = h @ w
                h += b
                if self.output == "logistic":
                    p = expit(h[:, 0])
                    part[:, 1] += p
                    part[:, 0] += 1 - p
                else:
                    h -= h.max(axis=1, keepdims=True)
                    np.exp(h, out=h)
                    part += h / h.sum(axis=1, keepdims=True)
        out /= len(self.layers)
        return out


@dataclasses.dataclass
class PixelClassifier:
    """Voxel classifier on multiscale features, with an auto-context stage.

    Each stage learns with a random forest (``model="forest"``: ``n_estimators``
    trees of depth ``max_depth``) or with ``networks`` small neural networks
    averaged (``model="network"``: :class:`VoxelNetwork`, ``hidden_layers``).
    The networks draw thin filaments better and predict faster: on the 128³
    anode phantoms, trained on seed 1 with the anode setting of
    docs/accuracy.md, the mean dendrite Dice over seeds 2–12 is 0.864 with
    networks against 0.831 with forests (held-out seeds 13–23: 0.859 against
    0.828), and a 256³ volume is predicted in 62.6 s against 92.3 s on two
    threads. On the cathode they let the contact area fall half a percent
    further below the truth (−5.2 % against −4.6 %, docs/segmentation.md),
    so the forest stays the default.

    Stage 1 learns the annotated voxels from :func:`multiscale_features`.
    Stage 2 ("auto-context", Tu & Bai 2010) learns them again from the same
    features plus the stage-1 class probabilities smoothed at
    ``context_sigmas`` (and their gradients and Hessian eigenvalues), so it
    can use what surrounds a voxel: a dark voxel inside a particle is a crack,
    next to one a contact-loss gap. While training, each annotated voxel's
    stage-1 probabilities come from a forest that did not see it
    (cross-fitting on a checkerboard of ``16``-voxel cubes); otherwise stage 2
    would learn to trust stage 1's memorised answers.

    With ``correct_artefacts`` the image is first freed of cupping and ring
    artefacts (:func:`ssbimage.filters.correct_cupping`, then
    :func:`~ssbimage.filters.reduce_rings`; each a global radial estimate, no
    halo), in training and prediction alike: otherwise the same phase looks
    different at different radii. On a 96³ cathode phantom the correction
    raises void Dice from 0.885 to 0.908 and crack Dice from 0.851 to 0.871.

    Annotations are usually balanced (a few strokes per class), which makes a
    forest over-predict rare classes. ``prior_power`` > 0 re-weights the
    final probabilities by (class share / annotated share) ** power, the
    class shares estimated from the stage-2 prediction of the training image.
    It trades a rare class's recall for precision: where a very rare class
    matters (cracks in a lithium anode), pass ``prior_power=0``.

    ``shape_ratios`` adds two contrast-free ratios of the Hessian eigenvalues
    per scale (:func:`~ssbimage.segment.shape_ratios`) that tell thin sheets
    from filaments; on the anode phantoms they raise the mean dendrite Dice
    from 0.815 to 0.836 (docs/segmentation.md), on the cathode they change
    nothing beyond noise, so they are off by default.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((16, 16, 16), np.float32); image[:, :, 8:] = 100
    >>> scribbles = np.zeros(image.shape, np.uint8)
    >>> scribbles[:, :, 2], scribbles[:, :, 13] = 1, 2
    >>> clf = PixelClassifier(n_estimators=10, context_sigmas=None).fit(image, scribbles)
    >>> clf.predict(image)[8, 8, [0, 15]].compute().tolist()
    [1, 2]
    """

    correct_artefacts: bool = True
    sigmas: tuple = (0.7, 1.5, 3.0)
    context_sigmas: tuple | None = (1.0, 2.0, 4.0)
    model: str = "forest"
    n_estimators: int = 60
    max_depth: int | None = 14
    hidden_layers: tuple = (64, 32)
    networks: int = 3
    prior_power: float = 0.5
    shape_ratios: bool = False
    seed: int = 0
    forest: object = None
    context_forest: object = None
    classes: np.ndarray | None = None
    class_weights: np.ndarray | None = None

    def _learner(self, x, y):
        """A trained stage learner: the random forest or the network (``model``). The
        attributes that hold them keep the forests' names, so saved classifiers still load."""
        if self.model == "network":
            return VoxelNetwork(self.hidden_layers, self.networks, self.seed).fit(x, y)
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                      n_jobs=1, random_state=self.seed).fit(x, y)

    @property
    def context_halo(self) -> int:
        return filter_halo(self.context_sigmas)

    def fit(self, image, annotations) -> PixelClassifier:
        """Learn from the annotated voxels (label image, 0 = not annotated)."""
        if self.model not in ("forest", "network"):
            raise ValueError(f"model must be 'forest' or 'network', not {self.model!r}")
        data, labels = as_dask(image), as_dask(annotations)
        if data.shape != labels.shape:
            raise ValueError(f"annotations {labels.shape} do not match the image {data.shape}")
        data = self._corrected(data)
        features = multiscale_features(data, self.sigmas, with_shape_ratios=self.shape_ratios)
        labels = labels.rechunk(features.chunks[:3])
        x, y, where = _annotated(features, labels)
        if len(y) == 0:
            raise ValueError("the annotations are empty: paint some voxels of each class")
        self.classes = np.unique(y)
        if len(self.classes) < 2:
            raise ValueError("annotate at least two classes")
        self.forest = self._learner(x, y)
        self.class_weights = np.ones(len(self.classes))
        if self.context_sigmas:
            colour = (where // CROSS_FIT_CUBE).sum(axis=1) % 2
            halves = [self._learner(x[colour != c], y[colour != c]) for c in (0, 1)]
            crossed = _cross_fitted(features, halves, self.classes)
            x2, _, _ = _annotated(self._with_context(features, crossed), labels)
            self.context_forest = self._learner(x2, y)
        if self.prior_power:
            predicted = self._predict(data, weighted=False)
            counts = np.bincount(predicted.ravel(), minlength=int(self.classes.max()) + 1).compute()
            share = counts[self.classes] / counts[self.classes].sum()
            annotated = np.array([np.mean(y == c) for c in self.classes])
            self.class_weights = (np.maximum(share, 1e-6) / annotated) ** self.prior_power
        return self

    def _corrected(self, data):
        if not self.correct_artefacts:
            return data
        from ..filters import correct_cupping, reduce_rings

        return reduce_rings(correct_cupping(data))

    def _with_context(self, features, probabilities):
        """Stage-2 input: the features, then the context features of stage-1 probabilities."""
        n_context = len(self.classes) * (1 + 4 * len(self.context_sigmas))
        context = _padded_map(probabilities, lambda b: _context_block(b, self.context_sigmas, self.context_halo),
                              self.context_halo, n_context)
        features = features.rechunk(context.chunks[:3] + (features.chunks[3],))
        return da.concatenate([features, context], axis=3).rechunk({3: -1})

    def predict_proba(self, image, *, weighted: bool = True) -> da.Array:
        """(Z, Y, X, K) class probabilities (K = annotated classes in ascending order), float32."""
        if self.forest is None:
            raise ValueError("the classifier is not trained: call fit first")
        return self._class_probabilities(self._corrected(as_dask(image)), weighted)

    def _class_probabilities(self, data, weighted):
        n = len(self.classes)
        # blocks of 128³ whatever the input's chunks: stage 1 runs over a block and its 32-voxel
        # halos, 3.8× the voxels of a 64³ block, 2.1× of a 128³ one; and a 128³ block's
        # 70 features already take 0.6 GB
        data = data.rechunk(PREDICT_BLOCK)
        if self.context_forest is None:
            features = multiscale_features(data, self.sigmas, with_shape_ratios=self.shape_ratios)
            prob = features.map_blocks(_probabilities, learner=self.forest, n_classes=n,
                                       columns=np.arange(n), dtype=np.float32,
                                       chunks=features.chunks[:3] + ((n,),))
        else:
            # both stages in one task per block, stage 1 over the block and its context halo:
            # a block then needs no other block's stage 1, which a checkpoint written in
            # batches recomputed for every batch that bordered it (4.5× at 512³)
            prob = _padded_map(data, self._both_stages, self.feature_halo + self.context_halo, n)
        if weighted:
            weights = self.class_weights.astype(np.float32)
            prob = prob * weights / (prob * weights).sum(axis=3, keepdims=True)
        return prob

    @property
    def feature_halo(self) -> int:
        return filter_halo(self.sigmas)

    def _both_stages(self, block: np.ndarray, block_info=None) -> np.ndarray:
        """Class probabilities of the voxels inside the halo of an image block padded by
        ``feature_halo + context_halo``.

        Beyond the volume's faces stage 1's probabilities are those of the face
        voxels continued outwards, as when stage 1 was a separate array
        overlapped with ``boundary="nearest"`` (and as training sees them): the
        probabilities equal that version's to the bit on a 96³ phantom.
        """
        n, context = len(self.classes), self.context_halo
        features = _features(block, self.sigmas, self.shape_ratios, self.feature_halo)
        first = _probabilities(features, self.forest, n, np.arange(n))
        for axis, sides in enumerate(_volume_faces(block_info)):
            size = first.shape[axis]
            for is_face, outside, face in zip(sides, (slice(0, context), slice(size - context, size)),
                                              (slice(context, context + 1), slice(size - context - 1, size - context))):
                if is_face:
                    first[(slice(None),) * axis + (outside,)] = first[(slice(None),) * axis + (face,)]
        inner = tuple(slice(context, size - context) for size in first.shape[:3])
        n_features = features.shape[3]
        both = np.empty(first[inner].shape[:3] + (n_features + n * (1 + 4 * len(self.context_sigmas)),),
                        np.float32)
        both[..., :n_features] = features[inner]
        del features
        _context_block(first, self.context_sigmas, context, out=both[..., n_features:])
        return _probabilities(both, self.context_forest, n, np.arange(n))

    def predict(self, image, *, weighted: bool = True) -> da.Array:
        """Class of every voxel (the annotation values), chunk by chunk; uint8."""
        if self.forest is None:
            raise ValueError("the classifier is not trained: call fit first")
        return self._predict(self._corrected(as_dask(image)), weighted)

    def _predict(self, data, weighted):
        prob = self._class_probabilities(data, weighted)
        classes = self.classes.astype(np.uint8)
        return prob.map_blocks(lambda p: classes[p.argmax(axis=-1)], drop_axis=3,
                               dtype=np.uint8).rechunk(data.chunks)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the classifier with joblib (a pickle: load only files you trust)."""
        import joblib

        path = Path(path)
        joblib.dump({"format": "ssbimage-pixel-classifier", "version": FILE_VERSION,
                     "classifier": self}, path)
        return path


FILE_VERSION = 2  # 2: auto-context stage, artefact correction, class weights
CROSS_FIT_CUBE = 16  # voxels: cube edge of the checkerboard used for cross-fitting
PREDICT_BLOCK = 128  # voxels: edge of the blocks prediction works in


def _annotated(features: da.Array, labels: da.Array):
    """Features, classes and (z, y, x) positions of the annotated voxels; only
    chunks with annotations compute their features."""
    f_blocks = delayed_blocks(features.rechunk(labels.chunks + ((features.shape[3],),))).reshape(labels.numblocks)
    l_blocks = delayed_blocks(labels)
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in labels.chunks]

    @dask.delayed
    def samples(f, lab, origin):
        keep = lab > 0
        return f[keep], lab[keep], np.argwhere(keep) + np.asarray(origin)

    has = dask.compute(*[dask.delayed(np.count_nonzero)(b) for b in l_blocks.ravel()])
    jobs = []
    for n, idx in zip(has, np.ndindex(*labels.numblocks)):
        if n:
            origin = tuple(int(starts[a][idx[a]]) for a in range(3))
            jobs.append(samples(f_blocks[idx], l_blocks[idx], origin))
    parts = dask.compute(*jobs)
    if not parts:
        return np.empty((0, features.shape[3]), np.float32), np.empty(0, np.uint8), np.empty((0, 3), int)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def _cross_fitted(features: da.Array, halves, classes) -> da.Array:
    """Stage-1 probabilities where each voxel's come from the forest trained on the other colour."""
    n = len(classes)
    columns = [np.searchsorted(classes, h.classes_) for h in halves]

    def block(f, block_info=None):
        origin = [lo for lo, _ in block_info[0]["array-location"][:3]]
        grid = np.indices(f.shape[:3]) + np.reshape(origin, (3, 1, 1, 1))
        colour = (grid // CROSS_FIT_CUBE).sum(axis=0) % 2
        out = np.zeros(f.shape[:3] + (n,), np.float32)
        for c in (0, 1):  # voxels of colour c get the forest trained without colour c
            here = colour == c
            if here.any():
                out[here] = _probabilities(f[here][None], halves[c], n, columns[c])[0]
        return out

    return features.map_blocks(block, dtype=np.float32, chunks=features.chunks[:3] + ((n,),))


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
    if content.get("version") != FILE_VERSION:
        raise SsbImageError(f"classifier file version {content.get('version')!r}, this ssbimage reads "
                            f"version {FILE_VERSION}: train the classifier again", path)
    return content["classifier"]
