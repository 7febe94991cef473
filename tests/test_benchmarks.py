"""The benchmark suite runs end to end at 64³ (a smoke run: speed is measured by `make bench`, not here)."""

import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    sys.path.insert(0, str(BENCHMARKS))
    import bench

    folder = tmp_path_factory.mktemp("bench")
    results = bench.main(["--smoke", "--cache", str(folder / "cache"), "--results", str(folder / "results"),
                          "--pipelines", "ours", "ours-classifier", "naive", "porespy", "label",
                          "--bench-python", str(folder / "no-such-python"), "--docs", str(folder / "perf.md")])
    return folder, results


def test_smoke_run_writes_results_and_report(smoke):
    folder, results = smoke
    written = json.loads(next((folder / "results").glob("smoke-*.json")).read_text())
    assert set(written["sizes"]) == {"64", "128"}
    report = (folder / "perf.md").read_text()
    assert "| 128³ | ours |" in report and "| 128³ | naive |" in report and "| 128³ | ours-classifier |" in report
    assert "| crack_density |" in report and "not measured" in report
    for entry in written["sizes"].values():
        ours, naive = entry["runs"]["ours"], entry["runs"]["naive"]
        assert ours["seconds"] > 0 and naive["seconds"] > 0
        # a Python process with numpy and dask is over 50 MB; the sampler must have seen it
        assert ours["peak_rss_bytes"] > 50 * 2**20 and naive["peak_rss_bytes"] > 50 * 2**20
        assert set(ours["stages"]) >= {"phases", "particles", "voids", "cracks", "metrics"}
        assert "PoreSpy environment" in entry["runs"]["porespy"]["skipped"]
        assert entry["runs"]["label"]["metrics"]["components"] > 0
        # thresholds have no crack class; the classifier, trained with crack strokes, measures cracks
        accurate = entry["runs"]["ours-classifier"]["metrics"]
        assert math.isnan(ours["metrics"]["crack_density"]) and accurate["crack_density"] > 0
    summary = written["summary"]["per_size"]["128"]
    assert summary["speedup_vs_naive"] == pytest.approx(
        written["sizes"]["128"]["runs"]["naive"]["seconds"] / written["sizes"]["128"]["runs"]["ours"]["seconds"])


def test_both_pipelines_see_the_same_volume_and_mirroring_keeps_fractions(smoke):
    _, results = smoke
    for size in ("64", "128"):
        runs = results["sizes"][size]["runs"]
        # the same thresholds on the same smoothed grey values: the same phase fractions
        for metric in ("void_fraction", "active_material_volume_fraction"):
            assert abs(runs["ours"]["metrics"][metric] - runs["naive"]["metrics"][metric]) < 2e-3
    # the 128³ volume is the 64³ tile mirrored 2 × 2 × 2: every fraction is the tile's
    tile, mirrored = (results["sizes"][s]["runs"]["naive"]["metrics"] for s in ("64", "128"))
    assert mirrored["active_material_volume_fraction"] == pytest.approx(tile["active_material_volume_fraction"],
                                                                        abs=2e-3)
