"""`tfgen finetune`: fine-tune a trained model on a new dataset (`tfgen.transfer.finetune`)."""

import pathlib

from tfgen.cli import common


def add_parser(sub):
    p = sub.add_parser("finetune", help="fine-tune a trained model on a new dataset")
    p.add_argument("source", help="zoo name, .keras file or SavedModel exported by tfgen")
    p.add_argument("--dataset", required=True, help="TFDS name, IDX folder, image folder or .npz")
    common.add_dataset_b(p)
    common.add_task(p, "pix2pix: derive the pairs from --dataset (default: the model's own task)")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument(
        "--freeze-d",
        type=int,
        default=0,
        metavar="N",
        help="FreezeD: freeze the discriminator's first N blocks (input side)",
    )
    p.add_argument(
        "--freeze-g",
        type=int,
        default=0,
        metavar="N",
        help="freeze the generator's first N (coarsest) blocks",
    )
    p.add_argument(
        "--unfreeze-every", type=int, metavar="K", help="release one frozen block every K epochs"
    )
    p.add_argument(
        "--block-lr-decay",
        type=float,
        metavar="F",
        help="learning-rate multiplier per block away from the output, e.g. 0.5",
    )
    p.add_argument("--learning-rate", type=float, help="Adam learning rate (default: the model's)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="passes over the data (default 1)")
    length.add_argument("--steps", type=int, help="training steps in all")
    p.add_argument("--batch-size", type=int, default=64, help="global batch size (default 64)")
    p.add_argument("--limit", type=int, help="use only the first N images (few-shot)")
    p.add_argument(
        "--limit-seed", type=int, help="with --limit: draw the N images by this seed instead"
    )
    common.add_balance(p)
    p.add_argument(
        "--augment",
        choices=("source", "none", "diffaugment", "ada"),
        help="a GAN's augmentation from now on (default: the source's own)",
    )
    p.add_argument(
        "--from-ema", action="store_true", help="start the generator from the source's EMA"
    )
    p.add_argument(
        "--ada-speed-images",
        type=int,
        help="with --augment ada: real images over which ADA's probability can go from 0 to 1 "
        "(default 500,000; a few-shot run of 16,000 images needs about 10,000)",
    )
    p.add_argument(
        "--refiner",
        help="a pix2pix model (zoo name or .keras) appended after the generator as a "
        "full-resolution second stage, fine-tuned with it",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategy", default="auto", help="auto, one, mirrored, multiworker, tpu")
    common.add_precision(p, "dtype policy of the fine-tune, whatever its source was trained in")
    common.add_checkpoint_every(p)
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=run)


def recipe_from_flags(args):
    """The fine-tuning recipe the flags mean: `[finetune]` plus the data and the run."""
    from tfgen import config

    raw = {
        "data": {"dataset": args.dataset},
        "train": {"batch_size": args.batch_size, "seed": args.seed, "strategy": args.strategy},
        "finetune": {"source": args.source, "freeze_d": args.freeze_d, "freeze_g": args.freeze_g},
    }
    optional = {
        "data": {"dataset_b": args.dataset_b, "task": args.task, "limit": args.limit,
                 "limit_seed": args.limit_seed, "balance": args.balance},
        "train": {"steps": args.steps, "epochs": args.epochs,
                  "checkpoint_every": args.checkpoint_every, "precision": args.precision},
        "finetune": {"unfreeze_every": args.unfreeze_every,
                     "block_lr_decay": args.block_lr_decay, "augment": args.augment,
                     "from_ema": args.from_ema or None,
                     "ada_speed_images": args.ada_speed_images, "refiner": args.refiner},
        "optimizer": {"learning_rate": args.learning_rate},
    }  # fmt: skip
    for section, values in optional.items():
        raw.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return config.from_dict(raw, where="tfgen finetune")


def run(args):
    common.check_at_least(args, 0, "--freeze-d", "--freeze-g")
    common.check_at_least(args, 1, "--steps", "--epochs", "--batch-size", "--limit")
    common.check_at_least(args, 1, "--checkpoint-every", "--unfreeze-every")
    recipe = recipe_from_flags(args)
    from tfgen.training import job

    job.run(recipe, args.out, verbose=common.verbosity(), data_dir=args.data_dir)
    print(f"wrote {pathlib.Path(args.out) / 'model.keras'}")
