"""The trainable voxel classifier: learns from scribbles, transfers to another phantom."""

import dask.array as da
import numpy as np
from scipy import ndimage
import pytest

from ssbimage.errors import SsbImageError
from ssbimage.segment import PixelClassifier, load_classifier, multiscale_features
from ssbimage.synth import composite_cathode


def dice(a, b):
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def scribbles(truth, per_class=1200, seed=0):
    """Sparse annotations: a few random voxels of each phase, 0 elsewhere."""
    rng = np.random.default_rng(seed)
    out = np.zeros(truth.shape, np.uint8)
    for phase in np.unique(truth):
        where = np.flatnonzero(truth.ravel() == phase)
        out.ravel()[rng.choice(where, min(per_class, len(where)), replace=False)] = phase
    return out


@pytest.fixture(scope="module")
def trained():
    train = composite_cathode((64, 64, 64), 0.5, radius_range=(2, 6), seed=11)
    truth = train.phases.data.compute()
    clf = PixelClassifier(n_estimators=30).fit(train.image.data, scribbles(truth))
    return clf


def test_scribbles_on_one_phantom_segment_another(trained):
    other = composite_cathode((64, 64, 64), 0.5, radius_range=(2, 6), seed=12)
    truth = other.phases.data.compute()
    predicted = trained.predict(other.image.data).compute()
    scores = {phase: dice(predicted == phase, truth == phase) for phase in (1, 2, 3)}
    assert scores[1] >= 0.9 and scores[2] >= 0.9, scores  # electrolyte, active material
    assert scores[3] >= 0.5, scores  # voids: mostly thin blurred shells


def test_prediction_does_not_depend_on_chunks(trained):
    image = composite_cathode((40, 40, 40), 0.5, radius_range=(2, 5), seed=13).image.data.compute()
    whole = trained.predict(da.from_array(image, chunks=40)).compute()
    parts = trained.predict(da.from_array(image, chunks=(13, 27, 40))).compute()
    np.testing.assert_array_equal(parts, whole)


def test_features_equal_in_memory_features():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(30, 30, 30)).astype(np.float32)
    whole = multiscale_features(da.from_array(image, chunks=30), sigmas=(1.0, 2.0)).compute()
    parts = multiscale_features(da.from_array(image, chunks=(11, 30, 7)), sigmas=(1.0, 2.0)).compute()
    assert whole.shape == (30, 30, 30, 12)
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("across, expected", [((2,), (0.0, 1.0)),  # dark sheet: one axis curves
                                             ((1, 2), (1.0, 1.0)),  # dark filament along z: two
                                             ((0, 1, 2), (1.0, 2.0))])  # dark blob: three
def test_shape_ratios_tell_sheets_from_filaments(across, expected):
    # a dark Gaussian valley of width 2 voxels across the given axes, at the centre of a 33³ block
    grid = np.indices((33, 33, 33)) - 16.0
    image = 100 - 50 * np.exp(-sum(grid[a] ** 2 for a in across) / 8)
    features = multiscale_features(image.astype(np.float32), sigmas=(1.0,),
                                  with_shape_ratios=True).compute()[16, 16, 16]
    middle_ratio, extremes_ratio = features[6:8]
    assert (middle_ratio, extremes_ratio) == pytest.approx(expected, abs=0.02)


def test_save_needs_trust_to_load(tmp_path, trained):
    path = trained.save(tmp_path / "phases.classifier")
    with pytest.raises(SsbImageError, match="trust=True"):
        load_classifier(path)
    again = load_classifier(path, trust=True)
    image = np.full((8, 8, 8), 20000, np.uint16)
    np.testing.assert_array_equal(again.predict(image).compute(), trained.predict(image).compute())
    import joblib

    joblib.dump({"format": "ssbimage-pixel-classifier", "version": 1, "classifier": again},
                tmp_path / "old.classifier")
    with pytest.raises(SsbImageError, match="version 1.*train the classifier again"):
        load_classifier(tmp_path / "old.classifier", trust=True)
    (tmp_path / "other.pkl").write_bytes(b"not a classifier")
    with pytest.raises(SsbImageError, match="not an ssbimage classifier"):
        load_classifier(tmp_path / "other.pkl", trust=True)


def test_network_predicts_what_scikit_learn_predicts():
    """The float32 forward pass with the standardisation folded into the first layer
    gives scikit-learn's probabilities, for several classes (softmax) and for two (logistic)."""
    from sklearn.neural_network import MLPClassifier

    from ssbimage.segment._classifier import VoxelNetwork

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 5)) * [1, 10, 100, 0.1, 0] + [0, 5, -50, 2, 7]  # one constant column
    for classes in (3, 2):
        y = np.digitize(x[:, 0] + 0.02 * x[:, 1] + 0.3 * rng.normal(size=len(x)), np.linspace(-1, 1, classes - 1))
        ours = VoxelNetwork((16, 8), members=1, seed=4).fit(x, y)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1
        reference = MLPClassifier((16, 8), max_iter=300, early_stopping=True, random_state=4).fit((x - mean) / scale, y)
        expected = reference.predict_proba((x - mean) / scale)
        np.testing.assert_allclose(ours.predict_proba(x.astype(np.float32)), expected, atol=1e-4)


def test_networks_average_their_members():
    from ssbimage.segment._classifier import VoxelNetwork

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    both = VoxelNetwork((8,), members=2, seed=0).fit(x, y)
    first, second = (VoxelNetwork((8,), members=1, seed=s).fit(x, y) for s in (0, 1))
    np.testing.assert_allclose(both.predict_proba(x), (first.predict_proba(x) + second.predict_proba(x)) / 2,
                               atol=1e-6)
    np.testing.assert_allclose(both.predict_proba(x).sum(axis=1), 1, atol=1e-5)


def test_network_classifier_segments_another_phantom(tmp_path):
    train = composite_cathode((64, 64, 64), 0.5, radius_range=(2, 6), seed=11)
    clf = PixelClassifier(model="network").fit(train.image.data, scribbles(train.phases.data.compute()))
    other = composite_cathode((64, 64, 64), 0.5, radius_range=(2, 6), seed=12)
    truth = other.phases.data.compute()
    predicted = clf.predict(da.from_array(other.image.data.compute(), chunks=32)).compute()
    scores = {phase: dice(predicted == phase, truth == phase) for phase in (1, 2, 3)}
    assert scores[1] >= 0.9 and scores[2] >= 0.9, scores
    assert scores[3] >= 0.5, scores
    # chunk invariance and a saved copy, as for the forest
    np.testing.assert_array_equal(clf.predict(other.image.data.rechunk((23, 64, 41))).compute(), predicted)
    again = load_classifier(clf.save(tmp_path / "network.classifier"), trust=True)
    np.testing.assert_array_equal(again.predict(other.image.data).compute(), predicted)


def test_bad_annotations():
    image = np.zeros((6, 6, 6), np.float32)
    with pytest.raises(ValueError, match="empty"):
        PixelClassifier().fit(image, np.zeros((6, 6, 6), np.uint8))
    one = np.zeros((6, 6, 6), np.uint8)
    one[0, 0, 0] = 1
    with pytest.raises(ValueError, match="two classes"):
        PixelClassifier().fit(image, one)
    with pytest.raises(ValueError, match="not trained"):
        PixelClassifier().predict(image)
    two = np.zeros((6, 6, 6), np.uint8)
    two[0, 0, 0], two[5, 5, 5] = 1, 2
    with pytest.raises(ValueError, match="model must be 'forest' or 'network'"):
        PixelClassifier(model="svm").fit(image, two)


def test_closed_form_eigenvalues_match_lapack():
    from ssbimage.segment._hessian import _eigenvalues

    rng = np.random.default_rng(3)
    m = rng.normal(size=(5000, 3, 3))
    m = m + np.swapaxes(m, 1, 2)
    m[:10] = np.diag([2.0, 2.0, 2.0])  # repeated eigenvalues
    ours = np.array([_eigenvalues(a[0, 0], a[1, 1], a[2, 2], a[0, 1], a[0, 2], a[1, 2]) for a in m])
    np.testing.assert_allclose(ours, np.linalg.eigvalsh(m), atol=1e-9)


def test_compiled_hessian_features_equal_numpy_derivatives():
    # the features as first written with np.gradient and LAPACK, for the voxels inside the halo
    image = np.random.default_rng(4).normal(size=(20, 22, 24)).astype(np.float32)
    halo, sigma = 3, 1.5
    features = _features_inside(image, sigma, halo)
    smooth = ndimage.gaussian_filter(image, sigma, mode="nearest")
    first = np.gradient(smooth)
    hessian = np.stack([np.stack(np.gradient(first[i]), -1) for i in range(3)], -2)
    hessian = (hessian + np.swapaxes(hessian, -1, -2)) / 2  # np.gradient's mixed terms differ by rounding
    inner = (slice(halo, -halo),) * 3
    expected = np.linalg.eigvalsh(hessian[inner].astype(np.float64))
    np.testing.assert_allclose(features[..., 1], smooth[inner], rtol=0, atol=0)
    np.testing.assert_allclose(features[..., 2], np.sqrt(sum(g ** 2 for g in first))[inner], rtol=1e-6)
    np.testing.assert_allclose(features[..., 3:6], expected, rtol=0, atol=1e-5)


def _features_inside(image, sigma, halo):
    from ssbimage.segment._features import _features

    return _features(image, (sigma,), halo=halo)
