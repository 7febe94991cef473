import dask.array as da
import numpy as np
import pytest

from ssbimage import Volume
from ssbimage.measure import intensity_histogram, intensity_summary


@pytest.mark.parametrize("chunks", [(3, 4, 5), (11, 13, 17), (1, 13, 17)])
def test_histogram_is_global_whatever_the_chunking(grey_volume, chunks):
    counts, edges = intensity_histogram(da.from_array(grey_volume, chunks=chunks), bins=64)
    expected, expected_edges = np.histogram(grey_volume, bins=64, range=(0, 65536))
    np.testing.assert_array_equal(counts.compute(), expected)
    np.testing.assert_allclose(edges, expected_edges)


def test_histogram_of_float_needs_a_range():
    with pytest.raises(ValueError, match="range"):
        intensity_histogram(np.zeros((2, 2, 2), np.float32))


@pytest.mark.parametrize("chunks", [(3, 4, 5), (11, 13, 17)])
def test_summary_of_integer_volume_is_exact(grey_volume, chunks):
    small = (grey_volume // 100).astype(np.uint16)  # 600 levels: one bin per level
    s = intensity_summary(Volume.from_array(da.from_array(small, chunks=chunks), 0.5))
    assert s["min"] == small.min() and s["max"] == small.max()
    assert s["mean"] == pytest.approx(small.mean()) and s["std"] == pytest.approx(small.std())
    for p in (1, 50, 99):
        assert s[f"p{p}"] == np.percentile(small, p, method="inverted_cdf")


def test_summary_of_float_volume_within_a_bin_and_skips_nan():
    rng = np.random.default_rng(1)
    values = rng.normal(0.5, 0.1, (20, 20, 20)).astype(np.float32)
    values[0, 0, :7] = np.nan
    s = intensity_summary(da.from_array(values, chunks=7), bins=1000)
    finite = values[np.isfinite(values)]
    width = (finite.max() - finite.min()) / 1000
    assert s["nan_count"] == 7
    for p in (1, 50, 99):
        assert abs(s[f"p{p}"] - np.percentile(finite, p)) <= width
    assert s["mean"] == pytest.approx(finite.mean(), rel=1e-5)


def test_summary_of_all_nan_volume():
    s = intensity_summary(np.full((2, 3, 4), np.nan, np.float32))
    assert s["nan_count"] == 24 and np.isnan(s["p50"]) and np.isnan(s["min"])
