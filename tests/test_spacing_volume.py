import re

import dask.array as da
import numpy as np
import pytest

from ssbimage import Volume
from ssbimage._spacing import check_spacing, length_in_micrometres
from ssbimage.errors import DimensionError, SpacingError, SsbImageError


@pytest.mark.parametrize(
    "spacing, expected",
    [(0.65, (0.65, 0.65, 0.65)), (2, (2.0, 2.0, 2.0)), ((1.0, 0.5, 0.25), (1.0, 0.5, 0.25)),
     (np.array([3.0, 2.0, 1.0]), (3.0, 2.0, 1.0))],
)
def test_check_spacing_accepts_scalar_and_per_axis(spacing, expected):
    assert check_spacing(spacing) == expected


@pytest.mark.parametrize(
    "spacing, message",
    [(0, "finite and positive"), (-1.0, "finite and positive"), (float("nan"), "finite and positive"),
     ((1.0, float("inf"), 1.0), "finite and positive"), ((1.0, 2.0), "needs 3 values"),
     ("0.5", "numbers"), ((1.0, "a", 2.0), "numbers")],
)
def test_check_spacing_rejects_bad_values_showing_them(spacing, message):
    with pytest.raises(SpacingError, match=message) as info:
        check_spacing(spacing, path="/data/scan.tif")
    assert "/data/scan.tif" in str(info.value)
    assert isinstance(info.value, SsbImageError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "value, unit, um",
    [(650, "nanometer", 0.65), (0.5, "micrometer", 0.5), (0.5, "µm", 0.5), (0.5, "micron", 0.5),
     (0.002, "mm", 2.0), (1.3e-6, "m", 1.3), (1.0, "pixel", None), (1.0, None, None), (72, "inch", None)],
)
def test_length_in_micrometres(value, unit, um):
    result = length_in_micrometres(value, unit)
    assert result == pytest.approx(um) if um is not None else result is None


@pytest.mark.parametrize("spacing", [None, 0.5, (1.0, 0.5, 0.5)])
def test_volume_from_array_is_lazy_and_records_spacing(grey_volume, spacing):
    vol = Volume.from_array(grey_volume, spacing=spacing, name="cell-A")
    assert isinstance(vol.data, da.Array)
    assert vol.shape == grey_volume.shape and vol.dtype == grey_volume.dtype and vol.axes == "zyx"
    if spacing is None:
        assert vol.unit == "voxel" and not vol.spacing_known and vol.spacing == (1.0, 1.0, 1.0)
    else:
        assert vol.unit == "µm" and vol.spacing == check_spacing(spacing)
    expected = tuple(n * s for n, s in zip(grey_volume.shape, vol.spacing))
    assert vol.physical_size == pytest.approx(expected)
    np.testing.assert_array_equal(vol.data.compute(), grey_volume)


def test_volume_is_immutable_and_replace_validates(grey_volume):
    vol = Volume.from_array(grey_volume, spacing=0.5)
    with pytest.raises(AttributeError):
        vol.spacing = (1, 1, 1)
    with pytest.raises(TypeError):
        vol.metadata["x"] = 1
    assert vol.replace(spacing=(2.0, 1.0, 1.0)).spacing == (2.0, 1.0, 1.0)
    with pytest.raises(SpacingError):
        vol.replace(spacing=(0.0, 1.0, 1.0))


def test_volume_time_series_axes(grey_volume):
    vol = Volume.from_array(np.stack([grey_volume] * 3), spacing=0.5)
    assert vol.axes == "tzyx" and vol.ndim == 4


@pytest.mark.parametrize("shape", [(5,), (4, 5), (1, 2, 3, 4, 5)])
def test_volume_rejects_wrong_dimensionality(shape):
    with pytest.raises(DimensionError, match=re.escape(str(shape))):
        Volume(da.zeros(shape), source="/data/x.npy")
