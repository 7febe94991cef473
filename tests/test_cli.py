import subprocess
import sys
from pathlib import Path

import numpy as np
import tifffile

from ssbimage.cli import main
from ssbimage.io import open_volume

SAMPLE = Path(__file__).parents[1] / "sample_volumes" / "cathode" / "image.ome.zarr"


def test_info_prints_shape_spacing_chunks_and_grey_summary(capsys):
    assert main(["info", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    data = open_volume(SAMPLE).data.compute()
    assert str(data.shape) in out and "uint16" in out and "0.5 × 0.5 × 0.5 µm" in out
    assert f"min {data.min()}" in out and f"max {data.max()}" in out
    assert "chunks" in out


def test_convert_writes_ome_zarr_with_the_same_voxels_and_spacing(tmp_path, capsys):
    out = tmp_path / "demo.ome.zarr"
    assert main(["convert", str(SAMPLE), str(out)]) == 0
    vol = open_volume(out)
    assert vol.spacing == (0.5, 0.5, 0.5)
    np.testing.assert_array_equal(vol.data.compute(), open_volume(SAMPLE).data.compute())
    assert main(["convert", str(SAMPLE), str(out)]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_convert_to_tiff_with_user_spacing(tmp_path):
    out = tmp_path / "demo.ome.tif"
    assert main(["convert", str(SAMPLE), str(out), "--spacing", "1", "0.5", "0.5"]) == 0
    assert open_volume(out).spacing == (1.0, 0.5, 0.5)


def test_bad_input_gives_one_line_error_and_status_2(tmp_path):
    missing = tmp_path / "missing.tif"
    run = subprocess.run([sys.executable, "-m", "ssbimage", "info", str(missing)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == f"ssbimage: error: {missing}: no such file or folder"
    assert "Traceback" not in run.stderr


def test_unknown_spacing_is_a_warning_not_an_error(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((4, 5, 6), np.uint16), photometric="minisblack")
    run = subprocess.run([sys.executable, "-m", "ssbimage", "info", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "warning:" in run.stderr and "--spacing" in run.stdout


def test_core_imports_without_qt_or_napari():
    code = ("import sys, ssbimage, ssbimage.io, ssbimage.measure, ssbimage.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('napari', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'qtpy', 'vispy')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_train_writes_a_classifier_of_the_chosen_model(tmp_path, capsys):
    from ssbimage.segment import load_classifier
    from ssbimage.synth import composite_cathode, phase_dice

    phantom = composite_cathode((48, 48, 48), 0.5, radius_range=(2, 6), seed=11)
    image, phases = phantom.image.data.compute(), phantom.phases.data.compute()
    tifffile.imwrite(tmp_path / "image.tif", image, photometric="minisblack")
    tifffile.imwrite(tmp_path / "phases.tif", phases, photometric="minisblack")
    out = tmp_path / "phases.classifier"
    assert main(["train", str(tmp_path / "image.tif"), "--spacing", "0.5", "--annotations",
                 str(tmp_path / "phases.tif"), "--per-class", "400", "--model", "network", "--out", str(out)]) == 0
    assert "with a network" in capsys.readouterr().out
    classifier = load_classifier(out, trust=True)
    assert classifier.model == "network"
    # electrolyte, active material: the phases the strokes cover most
    dice = phase_dice(classifier.predict(image), phases, codes=(1, 2))
    assert dice[1] >= 0.9 and dice[2] >= 0.9, dice
    assert tifffile.imread(tmp_path / "phases.tif").tolist() == phases.tolist()  # the input is not written to
