"""Every reader: voxels and spacing come back exactly, lazily, in any chunking."""

import json

import dask.array as da
import h5py
import numpy as np
import pytest
import tifffile
import zarr

from ssbimage import Volume
from ssbimage.errors import SpacingUnknownWarning
from ssbimage.io import open_volume, save_ome_zarr, save_ome_zarr_labels, save_tiff

SPACING = (0.7, 0.5, 0.25)


def assert_volume(vol, expected, spacing=SPACING):
    assert isinstance(vol.data, da.Array)
    assert vol.shape == expected.shape and vol.dtype == expected.dtype
    np.testing.assert_array_equal(vol.data.compute(), expected)
    if spacing is None:
        assert vol.unit == "voxel" and not vol.spacing_known
    else:
        assert vol.unit == "µm"
        assert vol.spacing == pytest.approx(spacing, rel=1e-6)


def test_ome_tiff_round_trip(tmp_path, grey_volume):
    out = save_tiff(Volume.from_array(grey_volume, SPACING, name="cell"), tmp_path / "v.ome.tif")
    vol = open_volume(out)
    assert_volume(vol, grey_volume)
    assert vol.metadata["format"] == "ome-tiff" and vol.metadata["spacing_source"] == "metadata"
    assert vol.name == "v"


def test_ome_tiff_in_nanometres(tmp_path, grey_volume):
    path = tmp_path / "nm.ome.tif"
    tifffile.imwrite(path, grey_volume, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 700, "PhysicalSizeY": 500, "PhysicalSizeX": 250,
        "PhysicalSizeZUnit": "nm", "PhysicalSizeYUnit": "nm", "PhysicalSizeXUnit": "nm"})
    assert_volume(open_volume(path), grey_volume)


def test_bigtiff_round_trip(tmp_path, grey_volume):
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, grey_volume, bigtiff=True)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
    assert_volume(open_volume(path, spacing=SPACING), grey_volume)


def test_imagej_hyperstack_spacing(tmp_path, grey_volume):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, grey_volume, imagej=True, resolution=(1 / 0.25, 1 / 0.5),  # (x, y) pixels per unit
                     metadata={"spacing": 0.7, "unit": "micron", "axes": "ZYX"})
    assert_volume(open_volume(path), grey_volume)


def test_imagej_time_series_is_4d(tmp_path, grey_volume):
    series = np.stack([grey_volume, grey_volume // 2])
    path = tmp_path / "tzyx.tif"
    tifffile.imwrite(path, series, imagej=True, resolution=(4.0, 2.0),
                     metadata={"spacing": 0.7, "unit": "um", "axes": "TZYX"})
    vol = open_volume(path)
    assert vol.axes == "tzyx"
    assert_volume(vol, series)


def test_plain_tiff_without_spacing_warns_and_records_voxels(tmp_path, grey_volume):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, grey_volume)  # default resolution tags are not trusted
    with pytest.warns(SpacingUnknownWarning, match="plain.tif"):
        vol = open_volume(path)
    assert_volume(vol, grey_volume, spacing=None)


def test_user_spacing_wins_over_metadata(tmp_path, grey_volume):
    out = save_tiff(Volume.from_array(grey_volume, SPACING), tmp_path / "v.ome.tif")
    vol = open_volume(out, spacing=2.0)
    assert vol.spacing == (2.0, 2.0, 2.0) and vol.metadata["spacing_source"] == "user"


def write_slices(folder, volume, name="slice_{}.tif"):
    folder.mkdir(exist_ok=True)
    for i, plane in enumerate(volume):
        tifffile.imwrite(folder / name.format(i), plane)


def test_slice_folder_is_natural_sorted(tmp_path, grey_volume):
    write_slices(tmp_path / "stack", grey_volume)  # slice_10 must follow slice_9
    (tmp_path / "stack" / "notes.txt").write_text("not an image")
    vol = open_volume(tmp_path / "stack", spacing=SPACING, chunks=(4, -1, -1))
    assert vol.metadata["format"] == "tiff-slices" and vol.data.numblocks[0] == 3
    assert_volume(vol, grey_volume)


def test_slice_glob(tmp_path, grey_volume):
    write_slices(tmp_path / "stack", grey_volume, name="rec_{:04d}.tiff")
    (tmp_path / "stack" / "other_0001.tiff").write_bytes(b"ignored: does not match the glob")
    vol = open_volume(tmp_path / "stack" / "rec_*.tiff", spacing=SPACING)
    assert_volume(vol, grey_volume)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_plain_zarr_array(tmp_path, grey_volume, zarr_format):
    path = tmp_path / f"v{zarr_format}.zarr"
    z = zarr.create_array(str(path), shape=grey_volume.shape, chunks=(4, 5, 6),
                          dtype=grey_volume.dtype, zarr_format=zarr_format)
    z[:] = grey_volume
    vol = open_volume(path, spacing=SPACING)
    for axis_chunks, stored in zip(vol.data.chunks, (4, 5, 6)):  # dask chunks align with stored ones
        assert all(c % stored == 0 for c in axis_chunks[:-1])
    assert_volume(vol, grey_volume)
    small = open_volume(path, spacing=SPACING, chunks=(4, 5, 6))
    assert small.data.numblocks == (3, 3, 3)
    assert_volume(small, grey_volume)


def test_ome_zarr_05_round_trip_with_pyramid(tmp_path, grey_volume):
    out = save_ome_zarr(Volume.from_array(grey_volume, SPACING, name="cell"), tmp_path / "v.ome.zarr",
                        levels=3, chunks=(4, 8, 8))
    vol = open_volume(out)
    assert vol.metadata["format"] == "ome-zarr-0.5" and vol.metadata["levels"] == 3
    assert vol.name == "cell"
    assert_volume(vol, grey_volume)
    level1 = open_volume(out, level=1)
    assert level1.spacing == pytest.approx(tuple(2 * s for s in SPACING))
    expected = grey_volume[:10, :12, :16].astype(float).reshape(5, 2, 6, 2, 8, 2).mean(axis=(1, 3, 5))
    np.testing.assert_array_equal(level1.data.compute(), np.round(expected).astype(np.uint16))


def test_ome_zarr_05_is_valid_ngff(tmp_path, grey_volume):
    ome_zarr_models = pytest.importorskip("ome_zarr_models")
    out = save_ome_zarr(Volume.from_array(grey_volume, SPACING), tmp_path / "v.ome.zarr", levels=2)
    phases = (grey_volume > 30000).astype(np.uint8) + 1
    save_ome_zarr_labels(phases, out, "phases", colors={1: (0, 0, 255, 255), 2: (255, 0, 0, 255)})
    image = ome_zarr_models.open_ome_zarr(zarr.open_group(str(out), mode="r"))
    assert type(image).__module__.startswith("ome_zarr_models.v05")
    assert [d.path for d in image.ome_attributes.multiscales[0].datasets] == ["0", "1"]
    label = ome_zarr_models.open_ome_zarr(zarr.open_group(str(out / "labels" / "phases"), mode="r"))
    assert type(label).__name__ == "ImageLabel"
    labels_meta = json.loads((out / "labels" / "zarr.json").read_text())
    assert labels_meta["attributes"]["ome"]["labels"] == ["phases"]
    read_back = open_volume(out / "labels" / "phases")
    assert_volume(read_back, phases)


def test_second_label_image_is_registered(tmp_path, grey_volume):
    out = save_ome_zarr(Volume.from_array(grey_volume, SPACING), tmp_path / "v.ome.zarr")
    save_ome_zarr_labels(np.ones_like(grey_volume, dtype=np.uint8), out, "phases")
    save_ome_zarr_labels(np.arange(grey_volume.size, dtype=np.uint32).reshape(grey_volume.shape),
                         out, "particles")
    meta = json.loads((out / "labels" / "zarr.json").read_text())
    assert meta["attributes"]["ome"]["labels"] == ["phases", "particles"]
    assert open_volume(out / "labels" / "particles").dtype == np.uint32


def test_ome_zarr_04_zarr_v2(tmp_path, grey_volume):
    path = tmp_path / "v04.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    group.create_array("0", data=grey_volume[None], chunks=(1, 4, 8, 8))  # a singleton channel axis
    group.attrs["multiscales"] = [{
        "version": "0.4", "name": "scan",
        "axes": [{"name": "c", "type": "channel"}] + [
            {"name": n, "type": "space", "unit": "nanometer"} for n in "zyx"],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 350.0, 500.0, 250.0]}]}],
        "coordinateTransformations": [{"type": "scale", "scale": [1.0, 2.0, 1.0, 1.0]}],
    }]
    vol = open_volume(path)
    assert vol.metadata["format"] == "ome-zarr-0.4" and vol.name == "scan"
    assert_volume(vol, grey_volume)  # 350 nm × 2 (global scale) = 0.7 µm


def test_hdf5_data_exchange_with_resolution(tmp_path, grey_volume):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=grey_volume, chunks=(4, 13, 17))
        res = f.create_dataset("measurement/instrument/detection_system/objective/resolution",
                               data=[0.65])
        res.attrs["units"] = "microns"
    assert_volume(open_volume(path), grey_volume, spacing=(0.65,) * 3)


def test_hdf5_data_exchange_camera_pixel_over_magnification(tmp_path, grey_volume):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["exchange/data"] = grey_volume
        f["measurement/instrument/detector/pixel_size_x"] = [6.5e-6]  # metres (SI default)
        f["measurement/instrument/detection_system/objective/magnification"] = [10.0]
    assert_volume(open_volume(path), grey_volume, spacing=(0.65,) * 3)


def test_hdf5_named_dataset_with_element_size(tmp_path, grey_volume):
    path = tmp_path / "volume.hdf5"
    with h5py.File(path, "w") as f:
        f["recon/volume"] = grey_volume
        f["recon/volume"].attrs["element_size_um"] = SPACING
    assert_volume(open_volume(path, dataset="recon/volume"), grey_volume)


def test_npy_round_trip(tmp_path, grey_volume):
    path = tmp_path / "v.npy"
    np.save(path, grey_volume)
    assert_volume(open_volume(path, spacing=SPACING, chunks=(3, 7, 5)), grey_volume)


@pytest.mark.parametrize("chunks", [(1, -1, -1), (4, 5, 6), (11, 13, 17), "auto"])
def test_chunking_does_not_change_voxels(tmp_path, grey_volume, chunks):
    out = save_tiff(Volume.from_array(grey_volume, SPACING), tmp_path / "v.ome.tif")
    vol = open_volume(out, chunks=chunks)
    np.testing.assert_array_equal(vol.data.compute(), grey_volume)


def test_volumes_pickle_as_paths_for_distributed(tmp_path, grey_volume):
    """A dask.distributed worker in another process reads each format itself."""
    distributed = pytest.importorskip("distributed")
    np.save(tmp_path / "v.npy", grey_volume)
    save_tiff(Volume.from_array(grey_volume, SPACING), tmp_path / "v.ome.tif")
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["exchange/data"] = grey_volume
    write_slices(tmp_path / "slices", grey_volume)
    paths = ["v.npy", "v.ome.tif", "v.h5", "slices"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        for name in paths:
            vol = open_volume(tmp_path / name, spacing=SPACING, chunks=(4, 13, 17))
            np.testing.assert_array_equal(vol.data.sum(axis=0).compute(),
                                          grey_volume.sum(axis=0, dtype=np.uint64))


def test_writers_are_atomic_and_leave_nothing_on_failure(tmp_path, grey_volume):
    def exploding(block):
        raise RuntimeError("disk full")

    bad = Volume.from_array(da.from_array(grey_volume, chunks=4).map_blocks(exploding, dtype=np.uint16), SPACING)
    for target, writer in [("v.ome.zarr", save_ome_zarr), ("v.ome.tif", save_tiff)]:
        with pytest.raises(RuntimeError, match="disk full"):
            writer(bad, tmp_path / target)
        assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_when_asked(tmp_path, grey_volume):
    from ssbimage.errors import OutputExistsError

    first = Volume.from_array(grey_volume, SPACING)
    out = save_ome_zarr(first, tmp_path / "v.ome.zarr")
    with pytest.raises(OutputExistsError, match="v.ome.zarr"):
        save_ome_zarr(first, out)
    save_ome_zarr(Volume.from_array(grey_volume // 2, SPACING), out, overwrite=True)
    np.testing.assert_array_equal(open_volume(out).data.compute(), grey_volume // 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.ome.zarr"]


def test_ome_tiff_pyramid_level(tmp_path):
    full = np.arange(8 * 16 * 16, dtype=np.uint16).reshape(8, 16, 16)
    path = tmp_path / "pyramid.ome.tif"
    meta = {"axes": "ZYX", "PhysicalSizeZ": 1.0, "PhysicalSizeY": 0.5, "PhysicalSizeX": 0.5}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        tif.write(full, subifds=1, metadata=meta, photometric="minisblack")
        tif.write(full[:, ::2, ::2], subfiletype=1, photometric="minisblack")
    assert_volume(open_volume(path), full, spacing=(1.0, 0.5, 0.5))
    level1 = open_volume(path, level=1)
    assert_volume(level1, full[:, ::2, ::2], spacing=(1.0, 1.0, 1.0))
    assert level1.metadata["levels"] == 2


def test_zarr_array_inside_a_plain_group(tmp_path, grey_volume):
    path = tmp_path / "scan.zarr"
    group = zarr.open_group(str(path), mode="w")
    group.create_array("recon", data=grey_volume, chunks=(4, 13, 17))
    assert_volume(open_volume(path, dataset="recon", spacing=SPACING), grey_volume)
    from ssbimage.errors import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="arrays: \\['recon'\\]"):
        open_volume(path, spacing=SPACING)


def test_singleton_leading_axes_are_dropped(tmp_path, grey_volume):
    path = tmp_path / "v5d.npy"
    np.save(path, grey_volume[None, None])
    assert_volume(open_volume(path, spacing=SPACING), grey_volume)
