"""analyze(): settings validated, the whole run on known volumes, outputs written safely."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssbimage import analyze
from ssbimage.cli import main
from ssbimage.errors import OutputExistsError, SsbImageError
from ssbimage.io import open_volume
from ssbimage.pipeline import ConfigError, load_config

ANODE = Path(__file__).parents[1] / "sample_volumes" / "anode"


@pytest.mark.parametrize("config, message", [
    ({}, "'sample' is required"),
    ({"sample": "cathod"}, "must be one of cathode, anode, full-cell"),
    ({"sample": "cathode", "smoothing": 1}, "unknown setting(s) smoothing"),
    ({"sample": "cathode", "denoise_sigma": "1"}, "'denoise_sigma' must be int or float"),
    ({"sample": "cathode", "trust_classifier": 1}, "'trust_classifier' must be bool"),
    ({"sample": "cathode", "partial_volume": "yes"}, "'partial_volume' must be bool"),
    ({"sample": "cathode", "min_void_volume": -1.0}, "must not be negative"),
])
def test_bad_settings_are_named(config, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(config)


def test_toml_settings_and_their_errors_name_the_file(tmp_path):
    good = tmp_path / "run.toml"
    good.write_text('sample = "anode"\nthresholds = [100, 200.5]\n', encoding="utf-8")
    config = load_config(good)
    assert config.sample == "anode" and config.thresholds == (100.0, 200.5)
    bad = tmp_path / "bad.toml"
    bad.write_text('sample = "anode\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def sphere_scene():
    """A ball of active material (grey 3000) in electrolyte (2000), half of it behind a void gap."""
    z, y, x = np.ogrid[:40, :40, :40]
    r2 = (z - 20.3) ** 2 + (y - 19.6) ** 2 + (x - 20.1) ** 2
    image = np.full((40, 40, 40), 2000, np.uint16)
    image[(r2 <= 13 ** 2) & (z < 20)] = 100          # a 3-voxel void shell over the lower half
    image[r2 <= 10 ** 2] = 3000
    return image


def test_analyze_a_ball_half_in_contact(tmp_path):
    image = sphere_scene()
    result = analyze(image, spacing=0.5, config={"sample": "cathode", "thresholds": [1000, 2500],
                                                 "denoise_sigma": 0, "scratch_dir": str(tmp_path)})
    assert any(p.name.startswith("ssbimage-") for p in tmp_path.iterdir())  # checkpoints, not RAM
    value = result.value
    assert value("particle_count") == 1
    # thresholds give no crack phase: the crack rows say "not measured", not 0
    for metric in ("crack_count", "crack_density", "crack_volume_fraction", "cracked_particle_fraction"):
        assert np.isnan(value(metric)), metric
    assert np.isnan(result.particles.crack_voxels).all()
    assert "not measured" in result.provenance["cracks"]
    zone = 2 * np.pi * 10 * (20.3 + 10 - 19.5)    # voxels of the ball above the gap's top face
    assert value("contact_area") == pytest.approx(zone * 0.25, rel=0.03)
    assert value("active_surface_area") == pytest.approx(4 * np.pi * 100 * 0.25, rel=0.02)
    assert value("void_fraction") == pytest.approx(np.mean(image == 100))
    assert value("interfacial_void_count") == 1
    particle = result.particles.iloc[0]
    assert particle.contact_fraction == pytest.approx(value("contact_fraction"))
    assert result.provenance["phases"] == {"method": "thresholds", "thresholds": [1000.0, 2500.0],
                                           "partial_volume": False}

    out = result.save(tmp_path / "run")
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns) == ["metric", "value", "unit"]
    assert metrics.set_index("metric").value["particle_count"] == 1
    assert len(pd.read_csv(out / "particles.csv")) == 1
    labels = open_volume(out / "labels.zarr", dataset="labels/particles")
    assert labels.spacing == (0.5, 0.5, 0.5)
    np.testing.assert_array_equal(labels.data.compute(), result.labels["particles"].compute())
    assert '"thresholds"' in (out / "provenance.json").read_text(encoding="utf-8")
    with pytest.raises(OutputExistsError):
        result.save(out)
    result.close()
    assert not any(tmp_path.glob("ssbimage-*"))  # the checkpoints are gone


def test_a_classifier_is_loaded_only_when_trusted(tmp_path):
    with pytest.raises(SsbImageError, match="pickle"):
        analyze(sphere_scene(), spacing=0.5, config={"sample": "cathode", "classifier": str(tmp_path / "m.joblib"),
                                                     "scratch_dir": str(tmp_path)})
    assert not any(tmp_path.glob("ssbimage-*"))  # a failed run leaves no checkpoints behind


def test_cli_analyze_anode_sample_prints_metrics_beside_the_truth(tmp_path, capsys):
    image = ANODE / "image.ome.zarr"
    before = open_volume(image).data.compute()
    out = tmp_path / "anode"
    assert main(["analyze", str(image), "--sample", "anode", "--out", str(out),
                 "--truth", str(ANODE / "truth.csv")]) == 0
    printed = capsys.readouterr().out
    assert "dendrite_max_penetration" in printed and "truth" in printed
    metrics = pd.read_csv(out / "metrics.csv").set_index("metric").value
    truth = pd.read_csv(ANODE / "truth.csv").set_index("metric").value
    # thresholds only (no classifier): the tallest dendrite is still found within 2 voxels
    assert metrics["dendrite_max_penetration"] == pytest.approx(truth["dendrite_max_penetration"], abs=1.0)
    np.testing.assert_array_equal(open_volume(image).data.compute(), before)  # input untouched
    assert main(["analyze", str(image), "--sample", "anode", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_full_cell_reports_particles_and_dendrites():
    from ssbimage.cli import make_sample

    ph = make_sample("full-cell", [64], seed=3)
    result = analyze(ph.image.data, spacing=0.5, config={"sample": "full-cell"})
    names = set(result.metrics.metric)
    assert {"particle_count", "contact_fraction", "dendrite_count", "dendrite_max_penetration"} <= names
    assert result.value("particle_count") > 10 and result.value("dendrite_count") >= 1
    # thresholds alone (no classifier) put the tallest tip 1.5 µm low here: within 4 voxels
    tallest = ph.truth_value("dendrite_max_penetration")
    assert result.value("dendrite_max_penetration") == pytest.approx(tallest, abs=2.0)
    assert "full cell" in result.provenance["tortuosity"]
    assert sorted(result.labels) == ["cracks", "dendrites", "particles", "phases", "voids"]
