"""Run one pipeline on one volume in this process and write its metrics and timings as JSON.

The driver (:mod:`bench`) starts one process per run so that each run's peak
memory is its own. ``seconds`` is the analysis alone, from reading the
volume to the last metric, without interpreter start-up or imports.

    python benchmarks/worker.py {ours,ours-distributed,ours-classifier,naive,porespy,label} VOLUME \\
        --spacing 0.5 --thresholds T1 T2 --out RESULT.json [--scratch DIR] [--classifier FILE]
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path


def _read(volume: str):
    import zarr

    return zarr.open_array(str(Path(volume) / "0"), mode="r")[...]


def ours(args, distributed=False, classifier=None):
    import dask

    from ssbimage import analyze

    config = {"sample": "cathode", "thresholds": list(args.thresholds), "tortuosity": False,
              "scratch_dir": args.scratch}
    if classifier:
        del config["thresholds"]
        config.update(classifier=classifier, trust_classifier=True)  # the bench trained it
    client = None
    if distributed:
        from distributed import Client, LocalCluster

        # the workers as the README's "On a Dask cluster" starts them: without
        # MALLOC_TRIM_THRESHOLD_, which doubled the per-particle kernels' time
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         dashboard_address=None, memory_limit=None))
        # the workers import ssbimage before the clock starts, as this process did above: a
        # cluster's workers outlive one analysis, and the import took 0.7-1.0 s per worker, inside
        # the phase stage (5.35 and 5.55 s without, 3.55 and 4.46 s with, at 512³)
        client.run(importlib.import_module, "ssbimage")
    else:
        dask.config.set(scheduler="threads", num_workers=2)
    try:
        start = time.perf_counter()
        result = analyze(args.volume, spacing=args.spacing, config=config)
        seconds = time.perf_counter() - start
        metrics = result.metrics.set_index("metric").value.astype(float).to_dict()
        stages = dict(result.provenance["stage_seconds"])
        result.close()
    finally:
        if client is not None:
            client.close()
    return metrics, stages, seconds


def naive(args):
    from naive import naive_analysis

    start = time.perf_counter()
    image = _read(args.volume)
    read = time.perf_counter() - start
    metrics, stages = naive_analysis(image, args.spacing, tuple(args.thresholds))
    return metrics, {"read": read, **stages}, time.perf_counter() - start


def porespy(args):
    from naive import _phases
    from porespy_ref import porespy_analysis
    from skimage.filters import gaussian

    start = time.perf_counter()
    image = _read(args.volume)
    read = time.perf_counter() - start
    mark = time.perf_counter()
    phases = _phases(gaussian(image, sigma=1, preserve_range=True), tuple(args.thresholds))
    del image
    preprocess = time.perf_counter() - mark
    metrics, stages = porespy_analysis(phases, args.spacing)
    return metrics, {"read": read, "preprocess+phases": preprocess, **stages}, time.perf_counter() - start


def stitched_label(args):
    """ssbimage's chunked, stitched connected components of the thresholded particle phase.

    The image is read and thresholded chunk by chunk as part of the run; every
    labelled chunk is computed (their maxima are gathered), nothing is written.
    A first run on one 128³ corner pays the one-time costs (imports, loading
    the compiled kernels, opening the store: 1.5 s in one run, against 4.0 s
    for the 512³ volume after it), timed apart as ``warm_up``: the floor is a
    throughput.
    """
    import dask
    import dask.array as da

    from ssbimage.segment import label

    dask.config.set(scheduler="threads", num_workers=2)

    def run(region):
        mask = da.from_zarr(str(Path(args.volume) / "0"))[region] > args.thresholds[1]
        labels, n = label(mask)
        return dask.compute(labels.max(), n)

    start = time.perf_counter()
    run((slice(0, 128),) * 3)
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    largest, n = run((slice(None),) * 3)
    seconds = time.perf_counter() - start
    return {"components": int(n), "largest_label": int(largest)}, {"warm_up": warm_up, "label": seconds}, seconds


def _warm_page_cache(volume):
    """Read the volume's files once, untimed, so that no pipeline pays for a cold disk.

    Which pipeline found the scan in the page cache depended on the run order:
    after the naive and PoreSpy runs the 512³ label benchmark took 2.2 s, with
    the cache dropped 9.0 s, with the files cached 1.1-1.3 s.
    """
    for path in sorted(Path(volume).rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                while f.read(1 << 24):
                    pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", choices=["ours", "ours-distributed", "ours-classifier", "naive", "porespy",
                                             "label"])
    parser.add_argument("volume")
    parser.add_argument("--spacing", type=float, required=True)
    parser.add_argument("--thresholds", type=float, nargs=2, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scratch")
    parser.add_argument("--classifier", help="trained PixelClassifier for ours-classifier")
    args = parser.parse_args(argv)
    if args.pipeline == "ours-classifier" and not args.classifier:
        parser.error("ours-classifier needs --classifier")
    run = {"ours": ours, "ours-distributed": lambda a: ours(a, distributed=True),
           "ours-classifier": lambda a: ours(a, classifier=a.classifier),
           "naive": naive, "porespy": porespy, "label": stitched_label}[args.pipeline]
    _warm_page_cache(args.volume)
    metrics, stages, seconds = run(args)
    Path(args.out).write_text(json.dumps({"pipeline": args.pipeline, "seconds": seconds,
                                          "stages": stages, "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
