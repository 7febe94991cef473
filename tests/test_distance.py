"""The clipped distance transforms against scipy's exact Euclidean distance transform."""

import numpy as np
import pytest
from scipy import ndimage

from ssbimage._distance import clipped_distance, clipped_signed_distance


def _exact(mask, spacing):
    """Distance to the nearest voxel outside ``mask``, the array's faces not being outside."""
    padded = np.pad(mask, 1, constant_values=True)
    distance = ndimage.distance_transform_edt(padded, sampling=spacing)[1:-1, 1:-1, 1:-1]
    return distance


@pytest.mark.parametrize("spacing", [(0.5, 0.5, 0.5), (0.65, 0.5, 0.4), (1.0, 1.0, 1.0)])
@pytest.mark.parametrize("clip", [1.7, 4.0, 40.0])
def test_clipped_distance_is_the_exact_distance_clipped(spacing, clip):
    rng = np.random.default_rng(1)
    mask = ndimage.binary_dilation(rng.random((37, 41, 45)) > 0.985, iterations=3, border_value=0) == 0
    mask[0] = False  # every voxel has some outside voxel: the faces are not outside
    found = clipped_distance(mask, spacing, clip)
    exact = np.minimum(_exact(mask, spacing), clip)
    assert found.dtype == np.float32 and found.shape == mask.shape
    # float32 squares against scipy's float64: a few units in the last place
    np.testing.assert_allclose(found, exact, rtol=2e-6, atol=1e-6)
    assert found.max() == pytest.approx(min(clip, exact.max()), rel=1e-6)
    assert (found[~mask] == 0).all()


def test_clipped_distance_treats_the_faces_as_inside():
    mask = np.ones((5, 6, 7), bool)
    mask[2, 3, 3] = False
    found = clipped_distance(mask, (1.0, 1.0, 1.0), 100.0)
    z, y, x = np.indices(mask.shape)
    np.testing.assert_allclose(found, np.sqrt((z - 2) ** 2 + (y - 3) ** 2 + (x - 3) ** 2), rtol=1e-6)
    # no outside voxel at all: everything is at the clip
    assert (clipped_distance(np.ones((4, 4, 4), bool), (1, 1, 1), 2.5) == np.float32(2.5)).all()


def test_clipped_signed_distance_is_positive_inside_and_clipped():
    z, y, x = np.ogrid[:40, :40, :40]
    ball = (z - 19.5) ** 2 + (y - 19.5) ** 2 + (x - 19.5) ** 2 <= 12 ** 2
    spacing = (0.5, 0.5, 0.5)
    found = clipped_signed_distance(ball, spacing, 3.0)
    inside = np.minimum(_exact(ball, spacing) - 0.25, 3.0)
    outside = np.minimum(ndimage.distance_transform_edt(~ball, sampling=spacing) - 0.25, 3.0)
    np.testing.assert_allclose(found, np.where(ball, inside, -outside), atol=1e-6)
    assert found.dtype == np.float64 and found.max() == 3.0 and found.min() == -3.0


@pytest.mark.parametrize("spacing", [(0.5, 0.5, 0.5), (0.65, 0.5, 0.4)])
@pytest.mark.parametrize("fill", [0.9, 0.97, 0.995])  # 92, 51 and 10 % inside
def test_clipped_signed_distance_is_both_sides_own_distances(spacing, fill):
    # both sides share one set of passes; each side must get exactly its own transform
    rng = np.random.default_rng(3)
    mask = ndimage.binary_dilation(rng.random((33, 38, 41)) > fill, iterations=2, border_value=0)
    found = clipped_signed_distance(mask, spacing, 2.0)
    shift = 0.5 * min(spacing)
    inside = np.float64(clipped_distance(mask, spacing, 2.0 + shift)) - shift
    outside = np.float64(clipped_distance(~mask, spacing, 2.0 + shift)) - shift
    np.testing.assert_array_equal(found, np.clip(np.where(mask, inside, -outside), -2.0, 2.0))
    exact = np.where(mask, _exact(mask, spacing), -_exact(~mask, spacing))
    np.testing.assert_allclose(found, np.clip(exact - np.sign(exact) * shift, -2.0, 2.0), atol=1e-6)


@pytest.mark.parametrize("region", [(slice(5, 30), slice(0, 41), slice(12, 13)),
                                    (slice(0, 1), slice(7, 40), slice(3, 45)),
                                    (slice(31, 37), slice(40, 41), slice(0, 45))])
def test_a_region_is_the_whole_result_cropped(region):
    rng = np.random.default_rng(2)
    mask = ndimage.binary_dilation(rng.random((37, 41, 45)) > 0.985, iterations=3, border_value=0) == 0
    spacing = (0.65, 0.5, 0.4)
    found = clipped_distance(mask, spacing, 6.0, region)
    assert found.shape == mask[region].shape
    np.testing.assert_array_equal(found, clipped_distance(mask, spacing, 6.0)[region])
    signed = clipped_signed_distance(mask, spacing, 3.0, region)
    np.testing.assert_array_equal(signed, clipped_signed_distance(mask, spacing, 3.0)[region])


def test_a_region_outside_the_array_is_refused():
    with pytest.raises(ValueError, match="region"):
        clipped_distance(np.ones((4, 4, 4), bool), (1, 1, 1), 2.0, (slice(0, 4), slice(2, 2), slice(0, 4)))
