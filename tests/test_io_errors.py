"""Bad input: a clear ssbimage error naming the file, and nothing written or lost."""

import os
import re

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from ssbimage import Volume
from ssbimage.errors import (
    CorruptFileError,
    DatasetNotFoundError,
    DimensionError,
    InconsistentSlicesError,
    InputNotFoundError,
    SpacingError,
    SsbImageError,
    UnsupportedFormatError,
)
from ssbimage.io import open_sem_eds, open_volume, save_ome_zarr, save_tiff


def raises_naming(cls, path):
    return pytest.raises(cls, match=re.escape(str(path)))


def test_missing_path(tmp_path):
    path = tmp_path / "nope.tif"
    with raises_naming(InputNotFoundError, path) as info:
        open_volume(path)
    assert isinstance(info.value, FileNotFoundError) and info.value.path == str(path)


def test_glob_matching_nothing(tmp_path):
    pattern = tmp_path / "rec_*.tif"
    with raises_naming(InputNotFoundError, pattern):
        open_volume(pattern)


def test_unsupported_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with raises_naming(UnsupportedFormatError, path):
        open_volume(path)


@pytest.mark.parametrize("name", ["scan.tif", "scan.h5", "scan.npy"])
def test_file_whose_content_does_not_match_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"<html>404 not found</html>")
    with raises_naming(CorruptFileError, path):
        open_volume(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tif"
    path.touch()
    with raises_naming(CorruptFileError, path):
        open_volume(path)


@pytest.mark.parametrize("kind", ["plain", "ome", "imagej", "bigtiff"])
def test_truncated_tiff(tmp_path, grey_volume, kind):
    path = tmp_path / f"{kind}.tif"
    options = {"plain": {}, "ome": {"ome": True}, "imagej": {"imagej": True},
               "bigtiff": {"bigtiff": True}}[kind]
    tifffile.imwrite(path, grey_volume, **options)
    os.truncate(path, os.path.getsize(path) * 2 // 3)
    with raises_naming(CorruptFileError, path) as info:
        open_volume(path, spacing=1.0).data.compute()
    assert "truncated" in str(info.value) or "damaged" in str(info.value)


def test_tiff_with_damaged_pixels_fails_when_read_not_with_a_bare_traceback(tmp_path):
    path = tmp_path / "damaged.tif"
    tifffile.imwrite(path, np.arange(4 * 64 * 64, dtype=np.uint16).reshape(4, 64, 64),
                     compression="zlib", photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[2].dataoffsets[0]
    with open(path, "r+b") as fh:  # garble page 2's compressed stream, size unchanged
        fh.seek(offset)
        fh.write(b"\xff" * 32)
    vol = open_volume(path, spacing=1.0, chunks=(1, 64, 64))
    np.testing.assert_array_equal(vol.data[0].compute()[0, :3], [0, 1, 2])  # good pages still read
    with raises_naming(CorruptFileError, path):
        vol.data[2].compute()


@pytest.mark.parametrize("shape", [(64,), (32, 48)])
def test_1d_or_2d_data_where_a_volume_is_needed(tmp_path, shape):
    path = tmp_path / "image.npy"
    np.save(path, np.zeros(shape, np.uint16))
    with raises_naming(DimensionError, path) as info:
        open_volume(path)
    assert "open_sem_eds" in str(info.value)


def test_2d_tiff_where_a_volume_is_needed(tmp_path):
    path = tmp_path / "sem.tif"
    tifffile.imwrite(path, np.zeros((32, 48), np.uint16))
    with raises_naming(DimensionError, path):
        open_volume(path)


def test_volume_where_a_2d_map_is_needed(tmp_path, grey_volume):
    path = tmp_path / "Ni.tif"
    tifffile.imwrite(path, grey_volume)
    with raises_naming(DimensionError, path):
        open_sem_eds(tmp_path)


def test_rgb_tiff_is_not_a_volume(tmp_path):
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, np.zeros((4, 16, 16, 3), np.uint8), photometric="rgb")
    with raises_naming(DimensionError, path):
        open_volume(path, spacing=1.0)


def test_ome_zarr_with_several_channels_is_not_one_volume(tmp_path, grey_volume):
    path = tmp_path / "multi.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    group.create_array("0", data=np.stack([grey_volume, grey_volume]))
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "c", "type": "channel"}] + [
        {"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1, 1, 1, 1]}]}]}]
    with raises_naming(DimensionError, path):
        open_volume(path)


def test_slices_of_different_shapes(tmp_path):
    folder = tmp_path / "stack"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"s{i}.tif", np.zeros((8, 8 if i != 1 else 9), np.uint16))
    with raises_naming(InconsistentSlicesError, folder) as info:
        open_volume(folder, spacing=1.0)
    assert "s1.tif" in str(info.value)


def test_slices_of_different_dtypes(tmp_path):
    folder = tmp_path / "stack"
    folder.mkdir()
    tifffile.imwrite(folder / "s0.tif", np.zeros((8, 8), np.uint16))
    tifffile.imwrite(folder / "s1.tif", np.zeros((8, 8), np.float32))
    with raises_naming(InconsistentSlicesError, folder) as info:
        open_volume(folder, spacing=1.0)
    assert "float32" in str(info.value)


def test_slice_replaced_after_opening_is_caught_at_read(tmp_path):
    folder = tmp_path / "stack"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"s{i}.tif", np.full((8, 8), i, np.uint16))
    vol = open_volume(folder, spacing=1.0, chunks=(1, 8, 8))
    tifffile.imwrite(folder / "s2.tif", np.zeros((4, 4), np.uint16))
    assert int(vol.data[1].compute().max()) == 1
    with raises_naming(CorruptFileError, folder / "s2.tif"):
        vol.data[2].compute()


def test_folder_without_slices(tmp_path):
    (tmp_path / "readme.md").write_text("no images here")
    with raises_naming(UnsupportedFormatError, tmp_path):
        open_volume(tmp_path)


def test_missing_hdf5_dataset_lists_what_is_there(tmp_path, grey_volume):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["entry/recon"] = grey_volume
    with raises_naming(DatasetNotFoundError, path) as info:
        open_volume(path)
    assert "/exchange/data" in str(info.value) and "/entry/recon" in str(info.value)
    with raises_naming(DatasetNotFoundError, path):
        open_volume(path, dataset="entry/missing")


def test_missing_zarr_level_and_node(tmp_path, grey_volume):
    out = save_ome_zarr(Volume.from_array(grey_volume, 0.5), tmp_path / "v.ome.zarr", levels=1)
    with raises_naming(DatasetNotFoundError, out):
        open_volume(out, level=3)
    with raises_naming(DatasetNotFoundError, out):
        open_volume(out, dataset="nope")


def test_corrupt_zarr_metadata(tmp_path, grey_volume):
    out = save_ome_zarr(Volume.from_array(grey_volume, 0.5), tmp_path / "v.ome.zarr", levels=1)
    (out / "zarr.json").write_text("{ not json")
    with raises_naming(CorruptFileError, out):
        open_volume(out)


def test_truncated_npy(tmp_path, grey_volume):
    path = tmp_path / "v.npy"
    np.save(path, grey_volume)
    os.truncate(path, os.path.getsize(path) // 2)
    with raises_naming(CorruptFileError, path):
        open_volume(path, spacing=1.0)


@pytest.mark.parametrize("spacing", [0, -0.5, float("nan"), (1.0, 1.0), (1, 0, 1)])
def test_bad_user_spacing(tmp_path, grey_volume, spacing):
    path = tmp_path / "v.npy"
    np.save(path, grey_volume)
    with raises_naming(SpacingError, path):
        open_volume(path, spacing=spacing)


def test_bad_spacing_in_file_metadata(tmp_path, grey_volume):
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        f["exchange/data"] = grey_volume
        f["exchange/data"].attrs["element_size_um"] = (0.0, 0.5, 0.5)
    with raises_naming(SpacingError, path) as info:
        open_volume(path)
    assert "spacing=" in str(info.value)
    assert open_volume(path, spacing=0.5).spacing == (0.5, 0.5, 0.5)  # the way out works


def test_every_error_is_an_ssbimage_error():
    from ssbimage import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, Warning):
            assert issubclass(cls, SsbImageError)


def test_reading_never_writes_next_to_the_input(tmp_path, grey_volume, file_hashes):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    save_tiff(Volume.from_array(grey_volume, 0.5), inputs / "v.ome.tif")
    save_ome_zarr(Volume.from_array(grey_volume, 0.5), inputs / "v.ome.zarr", levels=2)
    np.save(inputs / "v.npy", grey_volume)
    with h5py.File(inputs / "v.h5", "w") as f:
        f["exchange/data"] = grey_volume
    before = file_hashes(inputs)
    for name in ["v.ome.tif", "v.ome.zarr", "v.npy", "v.h5"]:
        vol = open_volume(inputs / name, spacing=0.5)
        vol.data.compute()
        save_ome_zarr(vol, tmp_path / "out" / f"{name}.ome.zarr")
    assert file_hashes(inputs) == before


@pytest.mark.parametrize("writer, name", [(save_tiff, "v.ome.tif"), (save_ome_zarr, "v.ome.zarr")])
def test_writer_refuses_to_overwrite_its_own_input(tmp_path, grey_volume, file_hashes, writer, name):
    out = writer(Volume.from_array(grey_volume, 0.5), tmp_path / name)
    before = file_hashes(tmp_path)
    vol = open_volume(out)
    with raises_naming(SsbImageError, out) as info:
        writer(vol, out, overwrite=True)
    assert "input" in str(info.value)
    assert file_hashes(tmp_path) == before
