"""The benchmark suite: ssbimage against a naive scikit-image/scipy pipeline and PoreSpy, side by side.

For each volume size the same cathode volume is analysed by

- ``ours``: :func:`ssbimage.analyze` (threaded scheduler, 2 threads);
- ``ours-distributed``: the same on a ``dask.distributed`` LocalCluster of 2 single-thread workers;
- ``ours-classifier``: :func:`ssbimage.analyze` with a voxel classifier instead of the thresholds
  (trained once per cache on strokes of another phantom, untimed): the pipeline that meets the
  metrics' accuracy floors, where thresholds leave the cracks out (performance_notes.md, item 19);
- ``naive``: :mod:`naive`, the plain in-memory pipeline, where it fits in memory;
- ``porespy``: PoreSpy ``snow2`` + ``porosity`` (:mod:`porespy_ref`, in its own
  environment: it pins ``edt<3.1`` and brings packages ssbimage does not need), where it fits in memory;
- ``label``: ssbimage's stitched connected components alone, on the void mask.

Each run is its own process; the driver samples the resident memory of that
process and all its children every 50 ms. ``ours`` and ``ours-classifier``
first run once, untimed, on a 320³ corner (``ours``: more than one particle work block) or a
64³ corner of the tile: numba compiles
ssbimage's kernels on first use and caches them on disk, as any user's
first run does once. Results go to
``benchmarks/results/<date>.json`` and, with ``--docs``, to docs/performance.md.
Only ratios within one run are compared, never absolutes across runs.

    python benchmarks/bench.py [--sizes 256 512 1024] [--big] [--smoke] [--docs]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
import volumes  # noqa: E402

#: peak bytes per voxel of the in-memory baselines (naive: 15.2 GiB at 512³): runs
#: whose estimate passes 80 % of the RAM are skipped rather than swapped or killed
BYTES_PER_VOXEL = {"naive": 120, "porespy": 60}


def run_worker(python: str, pipeline: str, volume: Path, out: Path, *, thresholds, scratch, timeout,
               classifier=None):
    """Run one pipeline in a child process; its result with the peak RSS of the process tree."""
    command = [python, str(HERE / "worker.py"), pipeline, str(volume), "--spacing", str(volumes.SPACING),
               "--thresholds", *map(str, thresholds), "--out", str(out), "--scratch", str(scratch)]
    if classifier:
        command += ["--classifier", str(classifier)]
    log = out.with_suffix(".log")
    started = time.perf_counter()
    with open(log, "w") as stream:
        process = psutil.Popen(command, stdout=stream, stderr=subprocess.STDOUT, cwd=HERE)
        peak = 0
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(_rss(p) for p in tree))
            except psutil.Error:
                pass
            if time.perf_counter() - started > timeout:
                for p in [*process.children(recursive=True), process]:
                    p.kill()
                return {"pipeline": pipeline, "skipped": f"timed out after {timeout:.0f} s"}
            time.sleep(0.05)
    if process.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{pipeline} on {volume} failed (exit {process.returncode}):\n{tail}")
    result = json.loads(out.read_text())
    result["peak_rss_bytes"] = peak
    result["process_seconds"] = time.perf_counter() - started
    return result


def _rss(process):
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def machine() -> dict:
    model = ""
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "ram_bytes": psutil.virtual_memory().total, "cpu": model,
            "python": platform.python_version(), "date": datetime.date.today().isoformat()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--big", action="store_true", help="add 2048³ (16 GiB)")
    parser.add_argument("--smoke", action="store_true", help="64³ tile, 64³ and 128³ volumes: checks the suite runs")
    parser.add_argument("--tile", type=int, default=256, help="phantom tile edge in voxels")
    parser.add_argument("--pipelines", nargs="+",
                        default=["ours", "ours-distributed", "ours-classifier", "naive", "porespy", "label"])
    parser.add_argument("--distributed-max", type=int, default=512,
                        help="largest size run on the LocalCluster too")
    parser.add_argument("--classifier-max", type=int, default=512,
                        help="largest size run with the classifier too (0.3 Mvox/s: 1024³ takes about an hour)")
    parser.add_argument("--cache", default=os.environ.get("SSBIMAGE_BENCH_CACHE",
                                                          Path(tempfile.gettempdir()) / "ssbimage-bench"))
    parser.add_argument("--bench-python", default=str(HERE.parent / ".venv-bench" / "bin" / "python"),
                        help="interpreter that has PoreSpy")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--docs", nargs="?", const=str(HERE.parent / "docs" / "performance.md"),
                        help="write the Markdown report here")
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    args = parser.parse_args(argv)
    if args.smoke:
        args.tile, args.sizes = 64, [64, 128]
    sizes = sorted(set(args.sizes + ([2048] if args.big else [])))
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    scratch = cache / "scratch"
    scratch.mkdir(exist_ok=True)
    runs = cache / "runs"
    runs.mkdir(exist_ok=True)

    print(f"tile {args.tile}³ (generated once into {cache})", flush=True)
    tile = volumes.tile(cache, args.tile)
    thresholds = volumes.thresholds(tile)
    classifier = None
    if "ours-classifier" in args.pipelines:
        print("training the classifier (once per cache, untimed)", flush=True)
        classifier = volumes.classifier(cache, args.tile)
    for pipeline in [p for p in ("ours", "ours-classifier") if p in args.pipelines]:
        # numba compiles ssbimage's kernels on first use and caches them on disk; a cold
        # cache added about 20 s to a 512³ run (87.6 against 68.0 s), once per install.
        # ``ours`` warms up on more than one particle work block (256³), or the kernels
        # that join blocks compile in the first timed run (run 52: 0.9 s at 512³)
        edge = 64 if pipeline == "ours-classifier" or args.smoke else args.tile + args.tile // 4
        warm_up = (volumes.corner(cache, tile, edge) if edge <= args.tile else
                   volumes.corner(cache, tile, edge, volumes.mirrored(cache, tile, 2 * args.tile)))
        print(f"warming up {pipeline} on a {edge}³ corner (compiles the kernels, untimed)", flush=True)
        run_worker(sys.executable, pipeline, warm_up, runs / f"warm-up-{pipeline}.json",
                   thresholds=thresholds, scratch=scratch, timeout=args.timeout, classifier=classifier)
    ram = psutil.virtual_memory().total
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    results = {"machine": machine(), "commit": commit, "tile": args.tile, "spacing_um": volumes.SPACING,
               "thresholds": thresholds, "sizes": {}}
    for size in sizes:
        volume = volumes.mirrored(cache, tile, size)
        entry = {"voxels": size ** 3, "truth": volumes.truth(tile, (size // args.tile) ** 3), "runs": {}}
        results["sizes"][str(size)] = entry
        for pipeline in args.pipelines:
            python = sys.executable
            reason = None
            if pipeline in BYTES_PER_VOXEL and BYTES_PER_VOXEL[pipeline] * size ** 3 > 0.8 * ram:
                reason = f"needs about {BYTES_PER_VOXEL[pipeline] * size ** 3 / 2**30:.0f} GiB of memory"
            if pipeline == "porespy":
                python = args.bench_python
                if not Path(python).exists():
                    reason = f"PoreSpy environment {python} not found (make bench creates it)"
            if pipeline == "ours-distributed" and size > args.distributed_max:
                reason = f"LocalCluster runs only up to {args.distributed_max}³ (--distributed-max)"
            if pipeline == "ours-classifier" and size > args.classifier_max:
                reason = f"the classifier runs only up to {args.classifier_max}³ (--classifier-max)"
            if reason:
                entry["runs"][pipeline] = {"pipeline": pipeline, "skipped": reason}
                print(f"{size}³ {pipeline}: skipped ({reason})", flush=True)
                continue
            out = runs / f"{pipeline}-{size}.json"
            result = run_worker(python, pipeline, volume, out, thresholds=thresholds, scratch=scratch,
                                timeout=args.timeout, classifier=classifier)
            entry["runs"][pipeline] = result
            if "seconds" in result:
                print(f"{size}³ {pipeline}: {result['seconds']:.1f} s, "
                      f"{size ** 3 / result['seconds'] / 1e6:.2f} Mvox/s, "
                      f"peak {result['peak_rss_bytes'] / 2**30:.2f} GiB", flush=True)
    results["summary"] = report.summary(results)
    Path(args.results).mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M")
    name = f"{'smoke-' if args.smoke else ''}{stamp}.json"
    (Path(args.results) / name).write_text(json.dumps(results, indent=1))
    print(report.markdown(results))
    if args.docs:
        report.write(results, Path(args.docs), HERE / "performance_notes.md")
    return results


if __name__ == "__main__":
    main()
