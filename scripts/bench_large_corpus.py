"""Time and peak memory of textgan on a corpus larger than memory: tokenising it, loading it, training from it.

Three measurements, each in a fresh process (peak RSS from ``getrusage``), on a corpus such as the one
``scripts/make_synthetic_corpus.py`` writes:

1. ``textgan-tokenize --num-proc N``: wall time and peak memory of the build (the main process and, separately,
   the largest worker), against the file size;
2. ``TextDataModule.setup()`` and 500 MLE batches plus 500 adversarial random batches from the stored split:
   memory after setup and at the end, against what the split would take as one int64 tensor;
3. BLEU's reference tables: built on first use, then read from the cache beside the splits.

    python scripts/bench_large_corpus.py --train /tmp/big/train.txt --test /tmp/big/test.txt \\
        --out /tmp/big/dataset --num-proc 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

LOAD = r"""
import json, resource, sys, time
from textgan.data.text import TextDataModule
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
datamodule.text_metrics([["a"]])
bleu_s = time.perf_counter() - started
print(json.dumps({"rows": rows, "row_length": length, "setup_s": setup_s, "setup_peak_mib": setup_rss,
    "mle_batch_ms": 1e3 * mle_s, "random_batch_ms": 1e3 * adversarial_s, "bleu_tables_s": bleu_s,
    "peak_mib": rss(), "dense_int64_mib": rows * length * 8 / 2**20}))
"""


def run(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, the child's peak RSS (MiB) and its stdout, from a fresh process (``wait4``'s rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - started, usage.ru_maxrss / 2**10, output


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
        seconds, peak, _ = run([*command, "--num-proc", str(args.num_proc), "--out", args.out])
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
        results.update(tokenize_s=seconds, tokenize_peak_mib=peak, largest_process_mib=workers)
    for attempt in ("first", "cached"):  # the second run reads the BLEU tables the first one cached
        _, peak, output = run([python, "-c", LOAD, args.out])
        results[f"load_{attempt}"] = {**json.loads(output.strip().splitlines()[-1]), "process_peak_mib": peak}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
