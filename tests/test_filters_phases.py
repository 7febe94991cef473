"""Chunked filters equal their scipy twins; global thresholds do not depend on chunks."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from ssbimage.filters import gaussian, median
from ssbimage.segment import global_thresholds, threshold_phases


@pytest.fixture
def noisy():
    rng = np.random.default_rng(0)
    return rng.normal(1000, 100, (30, 34, 38)).astype(np.float32)


@pytest.mark.parametrize("chunks", [(30, 34, 38), (10, 11, 13), (7, 34, 5)])
def test_gaussian_equals_scipy(noisy, chunks):
    out = gaussian(da.from_array(noisy, chunks=chunks), 1.5)
    np.testing.assert_allclose(out.compute(), ndimage.gaussian_filter(noisy, 1.5, mode="nearest"),
                               rtol=1e-6)


def test_gaussian_sigma_in_micrometres_with_anisotropic_spacing(noisy):
    out = gaussian(da.from_array(noisy, chunks=9), 1.0, spacing=(1.0, 0.5, 0.5))
    expected = ndimage.gaussian_filter(noisy, (1.0, 2.0, 2.0), mode="nearest")
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-6)


@pytest.mark.parametrize("chunks", [(30, 34, 38), (8, 9, 10)])
def test_median_equals_scipy(noisy, chunks):
    out = median(da.from_array(noisy, chunks=chunks), 3)
    np.testing.assert_array_equal(out.compute(), ndimage.median_filter(noisy, 3, mode="nearest"))


def three_phase_volume(seed=0):
    """Balanced void / electrolyte / active-material slabs with noise: multi-Otsu's home ground."""
    rng = np.random.default_rng(seed)
    truth = np.ones((24, 60, 30), np.uint8)
    truth[:, :20], truth[:, 40:] = 3, 2
    grey = np.choose(truth - 1, [20000, 36000, 6000]).astype(np.float32)
    return grey + rng.normal(0, 1500, truth.shape).astype(np.float32), truth


@pytest.mark.parametrize("chunks", [(24, 60, 30), (5, 7, 11)])
def test_multiotsu_on_the_global_histogram(chunks):
    grey, truth = three_phase_volume()
    phases, thresholds = threshold_phases(da.from_array(grey, chunks=chunks), sample="cathode")
    assert 6000 < thresholds[0] < 20000 < thresholds[1] < 36000
    assert np.mean(phases.compute() == truth) > 0.999
    whole = global_thresholds(grey, 3)
    np.testing.assert_array_equal(thresholds, whole)  # chunking does not move the thresholds


def test_manual_thresholds_and_sample_types():
    grey, truth = three_phase_volume()
    phases, used = threshold_phases(grey, sample="cathode", thresholds=(13000, 28000))
    assert used.tolist() == [13000, 28000] and np.mean(phases.compute() == truth) > 0.999
    anode, _ = threshold_phases(grey, sample="anode", thresholds=(13000,))
    assert set(np.unique(anode.compute())) == {5, 1}
    with pytest.raises(ValueError, match="increasing"):
        threshold_phases(grey, sample="cathode", thresholds=(28000, 13000))
    with pytest.raises(ValueError, match="sample"):
        threshold_phases(grey, sample="separator")
