"""Trains a model for many short epochs through `tfgen.training.train` and prints the process's
resident memory (RSS) after each epoch, and its growth after the second epoch (target < 5 %).

    TFGEN_DATA_DIR=../shared/data python benchmarks/memory_profile.py --epochs 12

The run is the real `tfgen train` path: checkpoints, sample grids and TensorBoard logs are
written every epoch, so a leak in any of them shows up here.
"""

import argparse
import os
import pathlib
import resource
import sys
import tempfile

import keras


def rss_mib():
    """Current resident set size in MiB: psutil, else /proc/self/status, else the peak RSS."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in KiB on Linux


class RSSPerEpoch(keras.callbacks.Callback):
    """Records RSS at the start and after every epoch, printing one table row each."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_begin(self, logs=None):
        self.start = rss_mib()

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append((epoch + 1, rss_mib()))
        print(f"| {epoch + 1:5d} | {self.rows[-1][1]:10.1f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", default="dcgan")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--limit", type=int, default=1024, help="images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    parser.add_argument("--out", help="run folder (default: a temporary folder)")
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 3:
        parser.error("--epochs must be >= 3 (growth is measured after the second epoch)")

    from tfgen import training

    probe = RSSPerEpoch()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or os.path.join(tmp, "run")
        print(f"{args.kind} on {args.dataset}: {args.epochs} epochs of {args.limit} images")
        print("| epoch | RSS (MiB) |\n| ---: | ---: |")
        training.train(
            args.kind,
            args.dataset,
            out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            limit=args.limit,
            checkpoint_every=args.checkpoint_every,
            samples=16,
            verbose=0,
            data_dir=args.data_dir,
            extra_callbacks=[probe],
        )
    after_second = probe.rows[1][1]
    last = probe.rows[-1][1]
    growth = 100.0 * (last - after_second) / after_second
    print(
        f"RSS before training {probe.start:.1f} MiB; after epoch 2 {after_second:.1f} MiB; "
        f"after epoch {probe.rows[-1][0]} {last:.1f} MiB; growth after the second epoch "
        f"{growth:+.2f} % (target < 5 %)"
    )
    return 0 if growth < 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
