"""`tfgen train`: train a model kind on a dataset into a run folder.

The kind, its `--option` names and the numeric flags are checked before TensorFlow loads.
"""

import pathlib

from tfgen.cli import common


def add_parser(sub):
    p = sub.add_parser("train", help="train a model kind on a dataset")
    p.add_argument("kind", help="model kind: dcgan, wgan_gp, cgan, pix2pix, vae, cyclegan")
    p.add_argument("--dataset", required=True, help="TFDS name, IDX folder, image folder or .npz")
    common.add_dataset_b(p)
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the data (default 1)")
    length.add_argument("--steps", type=int, help="training steps in all")
    p.add_argument("--batch-size", type=int, default=64, help="global batch size (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, help="resize images to N x N")
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument("--strategy", default="auto", help="auto, one, mirrored, multiworker, tpu")
    p.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="dtype policy: float32 (default), mixed_float16 (GPU, with loss scaling), "
        "mixed_bfloat16 (TPU, recent CPUs/GPUs)",
    )
    p.add_argument(
        "--jit",
        default="auto",
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
    p.add_argument(
        "--eval-n", type=int, default=1000, help="--eval-every: samples and real images (1000)"
    )
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=run)


def run(args):
    # Before TensorFlow loads: a typo answers at once.
    common.check_kind(args.kind)
    options = {
        **common.parse_options(args.option),
        **({"ema": args.ema} if args.ema is not None else {}),
        **({"augment": args.augment} if args.augment else {}),
        **({"r1_gamma": args.r1} if args.r1 is not None else {}),
        **({"spectral_norm": True} if args.spectral_norm else {}),
    }
    common.check_options(args.kind, options)
    common.check_at_least(args, 1, "--steps", "--epochs", "--batch-size", "--limit")
    common.check_at_least(args, 1, "--checkpoint-every", "--eval-every")
    from tfgen import training

    if args.steps is None and args.epochs is None:
        args.epochs = 1
    training.train(
        args.kind,
        args.dataset,
        args.out,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        image_size=args.image_size,
        channels=args.channels,
        data_dir=args.data_dir,
        strategy=args.strategy,
        options=options,
        verbose=common.verbosity(),
        task=args.task,
        dataset_b=args.dataset_b,
        monitor=args.monitor,
        limit=args.limit,
        checkpoint_every=args.checkpoint_every,
        deterministic=args.deterministic,
        precision=args.precision,
        jit=args.jit,
        eval_every=args.eval_every,
        eval_n=args.eval_n,
    )
    print(f"wrote {pathlib.Path(args.out) / 'model.keras'}")
