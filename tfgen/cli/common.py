"""What the command modules share: the parser class, the usage error, `--option` parsing and
the checks a command makes before TensorFlow is imported.

Nothing here imports TensorFlow: a usage error answers at once.
"""

import argparse
import json
import sys

from tfgen import kinds
from tfgen.errors import TfgenUsageError


class UsageError(Exception):
    """A command-line usage error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def parse_options(pairs):
    """`key=value` pairs -> dict; values parsed as JSON when they can be (numbers, lists)."""
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UsageError(f"--option expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


FLAG_OPTIONS = kinds.FLAG_OPTIONS


def check_kind(kind):
    """Refuses an unknown model kind from the static table `tfgen.kinds` (no TensorFlow)."""
    if kind not in kinds.MODEL_KINDS:
        raise TfgenUsageError(
            f"unknown model kind {kind!r}; choose one of {', '.join(sorted(kinds.MODEL_KINDS))}"
        )


def check_options(kind, options):
    """Refuses model options that `kind`'s constructor does not take (`tfgen.kinds`)."""
    known = kinds.MODEL_OPTIONS[kind]
    kinds.refuse_ema(kind, options)
    unknown = sorted(set(options) - set(known))
    if unknown:
        named = [
            f"{name} ({FLAG_OPTIONS[name]})" if name in FLAG_OPTIONS else name for name in unknown
        ]
        raise TfgenUsageError(
            f"unknown --option {', '.join(named)} for {kind}; its options are {', '.join(known)}"
        )


# What to do instead, for flags whose value has a meaningful absence.
_HINTS = {"--limit": "; drop it to use all images"}


def check_at_least(args, minimum, *flags):
    """Refuses a numeric flag below `minimum` (`--steps 0`) before anything is loaded."""
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is not None and value < minimum:
            raise TfgenUsageError(f"{flag} must be >= {minimum}, got {value}{_HINTS.get(flag, '')}")


def verbosity():
    """Keras' progress bar on a terminal, one line per epoch in a log."""
    return 1 if sys.stdout.isatty() else 2


def add_balance(parser):
    parser.add_argument(
        "--balance",
        type=float,
        metavar="B",
        help="repeat each class's images (largest class / class) ** B times: 1 evens the "
        "classes, 0.5 keeps the square root of the imbalance (needs class sub-folders)",
    )


def add_checkpoint_every(parser):
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="also checkpoint every N steps within epochs (a killed run resumes at that step)",
    )


def add_dataset_b(parser):
    parser.add_argument(
        "--dataset-b",
        help="cyclegan: domain B (same kinds as --dataset); without it --dataset must hold "
        "both domains (trainA/ and trainB/ folders, or a TFDS name like cycle_gan/horse2zebra)",
    )


def add_task(parser, help):
    parser.add_argument("--task", choices=("inpaint", "superres", "colorize"), help=help)


def add_precision(parser, what="dtype policy"):
    parser.add_argument(
        "--precision",
        choices=("float32", "mixed_float16", "mixed_bfloat16", "auto"),
        help=f"{what}: float32 (default), mixed_float16 (GPU, with loss scaling), "
        "mixed_bfloat16 (TPU, recent CPUs/GPUs), auto (mixed_bfloat16 where the device has "
        "fast bfloat16: TPU, GPU >= 8.0, CPU with AMX-BF16; else float32)",
    )


def add_overrides(parser, help):
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides", help=help)
