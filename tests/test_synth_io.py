"""Writing phantoms, the `ssbimage sample` command and lazy generation at 1024³."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ssbimage.cli import main
from ssbimage.io import open_sem_eds, open_volume
from ssbimage.synth import composite_cathode, cycling_series, save_phantom, sem_eds

LABELS = ["phases", "particles", "voids", "cracks", "dendrites"]


@pytest.mark.parametrize("fmt", ["ome-zarr", "tiff"])
def test_save_phantom_round_trip(tmp_path, fmt):
    ph = composite_cathode((32, 32, 32), 0.5, radius_range=(2, 4), seed=1)
    out = save_phantom(ph, tmp_path / "cathode", format=fmt)
    if fmt == "ome-zarr":
        image = open_volume(out / "image.ome.zarr")
        labels = {n: open_volume(out / "image.ome.zarr" / "labels" / n) for n in LABELS}
    else:
        image = open_volume(out / "image.ome.tif")
        labels = {n: open_volume(out / "labels" / f"{n}.ome.tif") for n in LABELS}
    assert image.spacing == (0.5, 0.5, 0.5)
    np.testing.assert_array_equal(image.data.compute(), ph.image.data.compute())
    np.testing.assert_array_equal(labels["phases"].data.compute(), ph.phases.data.compute())
    np.testing.assert_array_equal(labels["particles"].data.compute(),
                                  ph.labels["particles"].data.compute())
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth.columns) == ["metric", "value", "unit", "source"]
    np.testing.assert_allclose(truth.value, ph.truth.value)
    meta = json.loads((out / "phantom.json").read_text())
    assert meta["params"]["seed"] == 1 and meta["spacing_um"] == [0.5, 0.5, 0.5]


def test_save_series_and_sem_eds(tmp_path):
    series = cycling_series("cathode", 2, shape=(24, 24, 24), radius_range=(2, 3), seed=1)
    out = save_phantom(series, tmp_path / "series")
    meta = json.loads((out / "series.json").read_text())
    assert meta["cycles"] == [0, 100] and meta["timepoints"] == ["t00", "t01"]
    np.testing.assert_allclose(meta["shifts_um"], series.shifts)
    truth = pd.read_csv(out / "truth.csv")
    assert set(truth.timepoint) == {0, 1} and set(truth.cycle) == {0, 100}
    np.testing.assert_array_equal(open_volume(out / "t01" / "image.ome.zarr").data.compute(),
                                  series[1].image.data.compute())
    ph = sem_eds((64, 80), 0.1, seed=2)
    out = save_phantom(ph, tmp_path / "sem")
    maps = open_sem_eds(out / "maps")
    assert set(maps.elements) == set(ph.maps.elements) and maps.spacing == (0.1, 0.1)
    for name in ph.maps.channels:
        np.testing.assert_array_equal(maps[name], ph.maps[name])


def test_sample_command_writes_truth_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "anode"
    assert main(["sample", "anode", "--out", str(out), "--size", "40", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "dendrite_count" in printed and "dendrite_max_penetration" in printed
    assert open_volume(out / "image.ome.zarr").shape == (40, 40, 40)
    assert main(["sample", "anode", "--out", str(out), "--size", "40"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_1024_cubed_phantom_is_lazy_and_chunk_invariant():
    """A 2 GiB phantom: built without computing, one chunk read with bounded memory,
    identical to the same region taken from a differently chunked copy."""
    code = r"""
import json, resource
import numpy as np
from ssbimage.synth import anode_interface

def hwm():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM:"))

options = dict(shape=(1024, 1024, 1024), spacing=0.5, n_dendrites=9, n_pores=40, seed=1)
ph = anode_interface(chunks=128, **options)
built = hwm()
block = ph.image.data.blocks[1, 3, 4].compute()
phases = ph.phases.data.blocks[1, 3, 4].compute()
peak = hwm()
other = anode_interface(chunks=(200, 176, 320), **options)
region = (slice(128, 256), slice(384, 512), slice(512, 640))
same = bool(np.array_equal(other.image.data[region].compute(), block)
            and np.array_equal(other.phases.data[region].compute(), phases))
print(json.dumps(dict(numblocks=ph.image.data.numblocks, nbytes=int(ph.image.data.nbytes),
                      built=built, peak=peak, same=same,
                      phases=np.bincount(phases.ravel(), minlength=6).tolist())))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["numblocks"] == [8, 8, 8] and result["nbytes"] == 2 * 1024**3
    assert result["same"]
    assert result["built"] < 400 * 2**20  # building the phantom computed no voxels
    assert result["peak"] < 1.0 * 2**30, result["peak"] / 2**20  # 2 GiB volume, one chunk read
    assert result["phases"][1] > 0 and result["phases"][5] > 0  # SE and Li in that chunk
    print(f"1024³ phantom: peak RSS {result['peak'] / 2**20:.0f} MiB after one chunk")


@pytest.mark.parametrize("name", ["cathode", "anode", "sem-eds"])
def test_bundled_samples_are_what_the_generator_makes(name):
    """sample_volumes/ is regenerated by make_samples.sh; it must not drift from the code."""
    from pathlib import Path

    from ssbimage.cli import make_sample

    folder = Path(__file__).parents[1] / "sample_volumes" / name
    size = (512,) if name == "sem-eds" else (128,)
    phantom = make_sample(name, size, seed=1)
    stored = pd.read_csv(folder / "truth.csv")
    assert list(stored.metric) == list(phantom.truth.metric)
    np.testing.assert_allclose(stored.value, phantom.truth.value, rtol=1e-9)
    if name == "sem-eds":
        maps = open_sem_eds(folder / "maps")
        np.testing.assert_array_equal(maps["Ni"], phantom.maps["Ni"])
    else:
        image = open_volume(folder / "image.ome.zarr")
        np.testing.assert_array_equal(image.data.compute(), phantom.image.data.compute())
