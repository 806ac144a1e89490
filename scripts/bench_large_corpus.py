"""Time and peak memory of textgan on a corpus larger than memory: tokenising it, loading it, training from it.

Three measurements, each in a fresh process (peak RSS from ``getrusage``), on a corpus such as the one
``scripts/make_synthetic_corpus.py`` writes:

1. ``textgan-tokenize --num-proc N``: wall time and peak memory of the build (anonymous and file-backed
   resident memory summed over the process and its workers), against the file size;
2. ``TextDataModule.setup()`` and 500 MLE batches plus 500 adversarial random batches from the stored split:
   memory after setup and at the end, against what the split would take as one int64 tensor;
3. BLEU's reference tables: built on first use, then read from the cache beside the splits.

    python scripts/bench_large_corpus.py --train /tmp/big/train.txt --test /tmp/big/test.txt \\
        --out /tmp/big/dataset --num-proc 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = r"""
import json, resource, sys, time
from textgan.data.text import TextDataModule
from textgan.evaluation.sample_metrics import SampleMetrics
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
started = time.perf_counter()
datamodule = TextDataModule(dataset_dir=sys.argv[1], batch_size=64)
datamodule.setup()
setup_s, setup_rss = time.perf_counter() - started, rss()
started = time.perf_counter()
for count, batch in enumerate(datamodule.train_dataloader()):
    if count == 499: break
mle_s = (time.perf_counter() - started) / 500
started = time.perf_counter()
for count, batch in enumerate(datamodule.random_batches(1)):
    if count == 499: break
adversarial_s = (time.perf_counter() - started) / 500
rows, length = datamodule.train_tokens.shape
started = time.perf_counter()
SampleMetrics(datamodule).text([["a"], ["b"]])
bleu_s = time.perf_counter() - started
print(json.dumps({"rows": rows, "row_length": length, "setup_s": setup_s, "setup_peak_mib": setup_rss,
    "mle_batch_ms": 1e3 * mle_s, "random_batch_ms": 1e3 * adversarial_s, "bleu_tables_s": bleu_s,
    "peak_mib": rss(), "dense_int64_mib": rows * length * 8 / 2**20}))
"""


def tree_memory(pid: int) -> tuple[float, float]:
    """(anonymous, file-backed) resident MiB of process ``pid`` and its descendants, from /proc.

    Memory-mapped Arrow pages are file-backed: the kernel can drop them at any time, so they do not count
    against memory the way anonymous pages (the heap) do; ``ru_maxrss`` lumps both together.
    """
    pids, anonymous, file_backed = [pid], 0.0, 0.0
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids += [int(child) for child in children]
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                anonymous += int(line.split()[1]) / 1024
            elif line.startswith("RssFile:"):
                file_backed += int(line.split()[1]) / 1024
    return anonymous, file_backed


def run(command: list[str]) -> tuple[float, dict[str, float], str]:
    """Wall seconds, peak memory (MiB) and stdout of a fresh process: ``wait4``'s peak RSS of the process, and the
    peaks of anonymous and file-backed resident memory summed over it and its workers, polled every 0.1 s."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as captured:
        process = subprocess.Popen(command, stdout=captured, text=True)
        peak_anonymous = peak_file = 0.0
        while process.poll() is None:
            anonymous, file_backed = tree_memory(process.pid)
            peak_anonymous, peak_file = max(peak_anonymous, anonymous), max(peak_file, file_backed)
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        captured.seek(0)
        output = captured.read()
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10  # largest process so far
    memory = {"peak_anonymous_mib": peak_anonymous, "peak_file_backed_mib": peak_file, "largest_rss_mib": peak_rss}
    return seconds, memory, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--out", required=True, help="the dataset folder to build")
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--skip-build", action="store_true", help="measure loading an existing --out only")
    args = parser.parse_args(argv)
    python = sys.executable
    results: dict = {"file_mib": Path(args.train).stat().st_size / 2**20, "num_proc": args.num_proc}
    if not args.skip_build:
        command = [python, "-m", "textgan.cli.tokenize", "--train", args.train, "--test", args.test]
        seconds, memory, _ = run([*command, "--num-proc", str(args.num_proc), "--out", args.out])
        results["tokenize"] = {"seconds": seconds, **memory}
        print(json.dumps(results), flush=True)
    for attempt in ("first", "cached"):  # the second run reads the BLEU tables the first one cached
        _, memory, output = run([python, "-c", LOAD, args.out])
        results[f"load_{attempt}"] = {**json.loads(output.strip().splitlines()[-1]), **memory}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
