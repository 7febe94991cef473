"""Ratios, floors and the Markdown report of one benchmark run (:mod:`bench`)."""

from __future__ import annotations

from pathlib import Path

PIPELINES = ("ours", "ours-distributed", "ours-classifier", "naive", "porespy", "label")
ACCURACY = ("void_fraction", "total_porosity", "active_material_volume_fraction", "particle_count",
            "contact_area", "contact_fraction", "crack_volume_fraction", "crack_density")
#: columns of the accuracy table
COMPARED = (("ours", "ours"), ("ours-classifier", "ours (classifier)"), ("naive", "naive"), ("porespy", "PoreSpy"))
GiB = 2 ** 30


def _seconds(entry, pipeline):
    run = entry["runs"].get(pipeline, {})
    return run.get("seconds")


def summary(results: dict) -> dict:
    """Per size: Mvox/s, speed-ups, peak memory; across sizes: scaling; and the issue's floors."""
    per_size = {}
    for size, entry in results["sizes"].items():
        voxels = entry["voxels"]
        ours = _seconds(entry, "ours")
        row = {}
        if ours:
            run = entry["runs"]["ours"]
            row["ours_mvox_per_s"] = voxels / ours / 1e6
            row["ours_peak_rss_gib"] = run["peak_rss_bytes"] / GiB
            particles = run["stages"].get("particles")
            if particles:
                row["particles_mvox_per_s"] = voxels / particles / 1e6
            for other in ("naive", "porespy"):
                if _seconds(entry, other):
                    row[f"speedup_vs_{other}"] = _seconds(entry, other) / ours
            if _seconds(entry, "ours-distributed"):
                row["distributed_over_threads"] = _seconds(entry, "ours-distributed") / ours
        accurate = _seconds(entry, "ours-classifier")
        if accurate:
            row["classifier_mvox_per_s"] = voxels / accurate / 1e6
            for other in ("naive", "porespy"):
                if _seconds(entry, other):
                    row[f"classifier_speedup_vs_{other}"] = _seconds(entry, other) / accurate
        if _seconds(entry, "label"):
            row["label_mvox_per_s"] = voxels / _seconds(entry, "label") / 1e6
        per_size[size] = row
    scaling = {}
    times = {int(s): _seconds(e, "ours") for s, e in results["sizes"].items() if _seconds(e, "ours")}
    for size in sorted(times):
        if size // 2 in times:
            scaling[f"{size}/{size // 2}"] = times[size] / times[size // 2]

    def at(size, key):
        return per_size.get(str(size), {}).get(key)

    floors = [
        ("end-to-end speed-up vs naive at 512³", at(512, "speedup_vs_naive"), ">=", 5.0),
        ("end-to-end speed-up vs PoreSpy snow2 at 512³", at(512, "speedup_vs_porespy"), ">=", 15.0),
        ("the same with the classifier (accurate phases) vs naive at 512³",
         at(512, "classifier_speedup_vs_naive"), ">=", 5.0),
        ("the same with the classifier vs PoreSpy snow2 at 512³", at(512, "classifier_speedup_vs_porespy"), ">=", 15.0),
        ("peak RSS at 1024³ (GiB)", at(1024, "ours_peak_rss_gib"), "<=", 3.0),
        ("peak RSS at 2048³ (GiB)", at(2048, "ours_peak_rss_gib"), "<=", 3.0),
        ("time(1024³) / time(512³)", scaling.get("1024/512"), "<=", 9.0),
        ("particle stage at 512³ (Mvox/s)", at(512, "particles_mvox_per_s"), ">=", 8.0),
        ("stitched connected components at 512³ (Mvox/s)", at(512, "label_mvox_per_s"), ">=", 100.0),
        ("LocalCluster / threads at 512³", at(512, "distributed_over_threads"), "<=", 1.3),
    ]
    checked = [{"floor": name, "measured": value, "target": f"{op} {target}",
                "met": None if value is None else (value >= target if op == ">=" else value <= target)}
               for name, value, op, target in floors]
    return {"per_size": per_size, "scaling": scaling, "floors": checked}


def _fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, float):
        return "not measured" if value != value else f"{value:.{digits}g}"
    return str(value)


def _stage_table(results: dict, pipeline: str, title: str) -> list:
    """Rows of seconds per stage and size for one pipeline (none if it never ran)."""
    names = []
    for entry in results["sizes"].values():
        for name in entry["runs"].get(pipeline, {}).get("stages", {}):
            if name not in names:
                names.append(name)
    if not names:
        return []
    lines = ["", f"### Stages of {title} (seconds)", "",
             "| size | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for size, entry in results["sizes"].items():
        stages = entry["runs"].get(pipeline, {}).get("stages")
        if stages:
            lines.append(f"| {size}³ | " + " | ".join(_fmt(stages.get(n)) for n in names) + " |")
    return lines


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Machine: {m['cores']} cores, {m['ram_bytes'] / GiB:.1f} GiB RAM, {m['cpu'] or 'CPU unknown'}, "
             f"Python {m['python']}; run of {m['date']} at commit {results.get('commit', '?')}. "
             f"Volumes: a {results['tile']}³ cathode phantom tile at {results['spacing_um']} µm, "
             f"mirrored out to each size; thresholds "
             f"{results['thresholds'][0]:.0f} / {results['thresholds'][1]:.0f} for every pipeline but "
             f"ours with the classifier.", ""]
    summary_ = results["summary"]
    lines += ["### Floors", "", "| floor | measured | target | met |", "|---|---|---|---|"]
    for f in summary_["floors"]:
        met = "–" if f["met"] is None else ("yes" if f["met"] else "**no**")
        lines.append(f"| {f['floor']} | {_fmt(f['measured'])} | {f['target']} | {met} |")
    lines += ["", "### Time and memory", "",
              "| size | pipeline | seconds | Mvox/s | peak RSS (GiB) | ours is faster by |",
              "|---|---|---|---|---|---|"]
    for size, entry in results["sizes"].items():
        ours = _seconds(entry, "ours")
        for pipeline in PIPELINES:
            run = entry["runs"].get(pipeline)
            if run is None:
                continue
            if "skipped" in run:
                lines.append(f"| {size}³ | {pipeline} | skipped: {run['skipped']} | | | |")
                continue
            speedup = f"{run['seconds'] / ours:.2f}×" if ours and pipeline in ("naive", "porespy") else ""
            accurate = _seconds(entry, "ours-classifier")
            if accurate and pipeline in ("naive", "porespy"):
                speedup += f" (with the classifier: {run['seconds'] / accurate:.2f}×)"
            lines.append(f"| {size}³ | {pipeline} | {run['seconds']:.1f} | {entry['voxels'] / run['seconds'] / 1e6:.2f}"
                         f" | {run['peak_rss_bytes'] / GiB:.2f} | {speedup} |")
    if summary_["scaling"]:
        lines += ["", "Scaling of ours: " + ", ".join(f"time({k.split('/')[0]}³)/time({k.split('/')[1]}³) = "
                                                      f"{v:.2f}" for k, v in summary_["scaling"].items())]
    for pipeline, title in (("ours", "ours"), ("ours-classifier", "ours with the classifier"),
                            ("naive", "the naive pipeline")):
        lines += _stage_table(results, pipeline, title)
    lines += ["", "### Accuracy: the same volume, measured / truth", "",
              "| size | metric | truth | " + " | ".join(t for _, t in COMPARED) + " |",
              "|---" * (len(COMPARED) + 3) + "|"]
    for size, entry in results["sizes"].items():
        for metric in ACCURACY:
            values = [entry["runs"].get(p, {}).get("metrics", {}).get(metric) for p, _ in COMPARED]
            truth = entry["truth"].get(metric)
            if all(v is None for v in values):
                continue
            lines.append(f"| {size}³ | {metric} | {_fmt(truth, 4)} | " + " | ".join(_fmt(v, 4) for v in values) + " |")
    return "\n".join(lines) + "\n"


def write(runs, path: Path, notes: Path) -> None:
    """docs/performance.md: the notes (what was slow and what fixed it), then each run's tables."""
    runs = [runs] if isinstance(runs, dict) else list(runs)
    text = notes.read_text(encoding="utf-8").rstrip() if notes.exists() else "# Performance"
    for k, results in enumerate(runs, start=1):
        sizes = ", ".join(f"{s}³" for s in results["sizes"])
        heading = "Latest run" if len(runs) == 1 else f"Run {k} of {len(runs)}"
        text += f"\n\n## {heading} (`make bench`): {sizes}\n\n" + markdown(results)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv=None):
    """Rewrite docs/performance.md from saved runs: ``python benchmarks/report.py RUN.json [RUN.json ...]``."""
    import argparse
    import json

    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--docs", default=str(here.parent / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    write([json.loads(Path(r).read_text()) for r in args.runs], Path(args.docs), here / "performance_notes.md")


if __name__ == "__main__":
    main()
