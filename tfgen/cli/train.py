"""`tfgen train`: train a model kind on a dataset into a run folder.

The kind, its `--option` names and the numeric flags are checked before TensorFlow loads.
"""

import pathlib

from tfgen.cli import common


def add_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a recipe (--config) or a model kind on a dataset",
        description="tfgen train --config RECIPE.toml [--set key=value ...] --out RUN, or "
        "tfgen train KIND --dataset D [flags] --out RUN: both build one recipe "
        "(tfgen/config.py documents every key) and run the same job.",
    )
    p.add_argument(
        "kind",
        nargs="?",
        help="model kind: dcgan, wgan_gp, cgan, pix2pix, vae, cyclegan, classifier",
    )
    p.add_argument(
        "--config", metavar="RECIPE", help="a recipe file (TOML), e.g. recipes/dcgan_mnist.toml"
    )
    common.add_overrides(
        p, "override a recipe key, e.g. --set train.steps=200 (repeatable; TOML values)"
    )
    p.add_argument(
        "--dataset", help="TFDS name, IDX folder, image folder, .npz or emoji_google/emoji_twitter"
    )
    p.add_argument(
        "--target",
        help="pix2pix: the targets' folder or set, paired with --dataset by relative path",
    )
    common.add_dataset_b(p)
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the data (default 1)")
    length.add_argument("--steps", type=int, help="training steps in all")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--seed", type=int)
    p.add_argument("--image-size", type=int, help="resize images to N x N")
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument("--strategy", help="auto (default), one, mirrored, multiworker, tpu")
    common.add_precision(p)
    p.add_argument(
        "--jit",
        choices=("auto", "on", "off"),
        help="XLA compilation of the train step: auto (on for GPU/TPU, off on CPU), on, off",
    )
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="model constructor argument, e.g. --option latent_dim=100",
    )
    p.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="dcgan, wgan_gp, cgan: sample and export from a moving average of the generator's "
        "weights with this decay, e.g. 0.999",
    )
    p.add_argument(
        "--monitor",
        nargs="?",
        const="warn",
        choices=("warn", "stop"),
        help="dcgan, wgan_gp, cgan: watch training health (mode collapse, D over-powering, "
        "divergence, NaN) and warn with what to try; 'stop' also stops at the first alarm, "
        "keeping RUN_DIR/last_good.keras",
    )
    p.add_argument(
        "--augment",
        choices=("diffaugment", "ada"),
        help="dcgan, wgan_gp, cgan, cyclegan (each discriminator): differentiable augmentation "
        "of the discriminator's inputs; ada adapts its probability (see --option ada_target=0.6, "
        "ada_interval=4)",
    )
    p.add_argument(
        "--r1",
        type=float,
        metavar="GAMMA",
        help="dcgan, wgan_gp, cgan, cyclegan: R1 gradient penalty on real images with weight "
        "GAMMA, e.g. 10",
    )
    p.add_argument(
        "--spectral-norm",
        action="store_true",
        help="dcgan, wgan_gp, cgan: spectral normalization of the discriminator's layers "
        "(replaces its BatchNorm, or the critic's LayerNorm)",
    )
    common.add_task(
        p,
        "pix2pix: derive (input, target) pairs from --dataset (default: --dataset is a "
        "paired folder with input/ and target/ sub-folders of matching file names)",
    )
    p.add_argument("--limit", type=int, help="use only the first N images")
    common.add_balance(p)
    common.add_checkpoint_every(p)
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="op determinism: a resumed run ends with the same weights as an uninterrupted one",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        metavar="N",
        help="every N epochs: FID/KID of --eval-n fixed-seed samples vs the test split of "
        "--dataset (TensorBoard + history); the best model by FID is kept as RUN_DIR/best.keras "
        "with RUN_DIR/best.json",
    )
    p.add_argument("--eval-n", type=int, help="--eval-every: samples and real images (1000)")
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=run)


# Flag -> recipe key (`tfgen.config`); a flag left out keeps the recipe's default.
FLAG_KEYS = {
    "dataset": "data.dataset", "dataset_b": "data.dataset_b", "target": "data.target",
    "image_size": "data.image_size", "channels": "data.channels", "limit": "data.limit",
    "balance": "data.balance", "task": "data.task", "steps": "train.steps", "epochs": "train.epochs",
    "batch_size": "train.batch_size", "seed": "train.seed", "strategy": "train.strategy",
    "precision": "train.precision", "jit": "train.jit",
    "checkpoint_every": "train.checkpoint_every", "eval_every": "train.eval_every",
    "eval_n": "train.eval_n", "monitor": "train.monitor",
}  # fmt: skip


def recipe_from_flags(args):
    """The recipe that `tfgen train KIND --dataset D [flags]` means (no TensorFlow)."""
    from tfgen import config

    common.check_kind(args.kind)
    options = {
        **common.parse_options(args.option),
        **({"ema": args.ema} if args.ema is not None else {}),
        **({"augment": args.augment} if args.augment else {}),
        **({"r1_gamma": args.r1} if args.r1 is not None else {}),
        **({"spectral_norm": True} if args.spectral_norm else {}),
    }
    common.check_options(args.kind, options)
    if args.dataset is None:
        raise common.UsageError("tfgen train: --dataset is required with a KIND (or give --config)")
    raw = {"model": {"kind": args.kind, **options}}
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None:
            section, name = key.split(".")
            raw.setdefault(section, {})[name] = value
    if args.deterministic:
        raw.setdefault("train", {})["deterministic"] = True
    raw = config.apply_overrides(raw, args.overrides)
    return config.from_dict(raw, where="tfgen train")


def recipe_from_args(args):
    """`--config` (with `--set`) or the flags: one recipe either way."""
    from tfgen import config

    if args.config is None:
        if args.kind is None:
            raise common.UsageError("tfgen train: give a KIND (dcgan, ...) or --config RECIPE")
        return recipe_from_flags(args)
    given = ["KIND"] * (args.kind is not None)
    given += [f"--{k.replace('_', '-')}" for k in (*FLAG_KEYS, "option", "ema", "augment",
             "r1") if getattr(args, k, None) is not None]  # fmt: skip
    given += ["--spectral-norm"] * bool(args.spectral_norm) + ["--deterministic"] * bool(
        args.deterministic
    )
    if given:
        raise common.UsageError(
            f"tfgen train: --config takes its settings from the recipe; instead of "
            f"{', '.join(given)} use --set key=value (e.g. --set train.steps=200)"
        )
    return config.load(args.config, args.overrides)


def run(args):
    # Before TensorFlow loads: a typo answers at once.
    common.check_at_least(args, 1, "--steps", "--epochs", "--batch-size", "--limit")
    common.check_at_least(args, 1, "--checkpoint-every", "--eval-every")
    recipe = recipe_from_args(args)
    from tfgen.training import job

    job.run(recipe, args.out, verbose=common.verbosity(), data_dir=args.data_dir)
    print(f"wrote {pathlib.Path(args.out) / 'model.keras'}")
