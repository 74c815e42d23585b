"""The `tfgen` command line: train, finetune, sample, evaluate, export, list.

Only parses arguments and calls the library. Usage errors print one line and exit 2; runtime
failures print one line and exit 1; `--debug` shows the traceback.
"""

import argparse
import json
import os
import sys

# Quiet TensorFlow's C++ start-up logging before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class _UsageError(Exception):
    pass


def _parse_options(pairs):
    """`key=value` pairs -> dict; values parsed as JSON when they can be (numbers, lists)."""
    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise _UsageError(f"--option expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


# ------------------------------------------------------------------------ commands
def cmd_train(args):
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
        options={
            **_parse_options(args.option),
            **({"ema": args.ema} if args.ema is not None else {}),
            **({"augment": args.augment} if args.augment else {}),
            **({"r1_gamma": args.r1} if args.r1 is not None else {}),
            **({"spectral_norm": True} if args.spectral_norm else {}),
        },
        verbose=1 if sys.stdout.isatty() else 2,
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
    print(f"wrote {os.path.join(args.out, 'model.keras')}")


def cmd_finetune(args):
    from tfgen import transfer

    if args.steps is None and args.epochs is None:
        args.epochs = 1
    transfer.finetune(
        args.source,
        args.dataset,
        args.out,
        freeze_d=args.freeze_d,
        freeze_g=args.freeze_g,
        unfreeze_every=args.unfreeze_every,
        lr_decay=args.block_lr_decay,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        learning_rate=args.learning_rate,
        data_dir=args.data_dir,
        strategy=args.strategy,
        limit=args.limit,
        checkpoint_every=args.checkpoint_every,
        verbose=1 if sys.stdout.isatty() else 2,
        dataset_b=args.dataset_b,
        task=args.task,
    )
    print(f"wrote {os.path.join(args.out, 'model.keras')}")


def cmd_sample(args):
    from tfgen import io, saving

    if _check_latent_flags(args):
        return _sample_latent_grid(args)
    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if args.n < 1:
        raise _UsageError(f"--n must be >= 1, got {args.n}")
    labels = args.label if args.label is not None else _parse_labels(args.labels)
    if labels is not None:
        if not hasattr(model, "num_classes"):
            raise _UsageError(
                f"--label/--labels need a label-conditioned model (cgan); {args.model} is a "
                f"{getattr(model, 'kind', type(model).__name__)}"
            )
        images = model.generate(args.n, labels=labels, seed=args.seed)
    else:
        images = model.generate(args.n, seed=args.seed)
    path = io.save_images(images, args.out)
    print(f"wrote {path} ({args.n} images)")


def _check_latent_flags(args):
    """True when --interpolate/--traverse asks for a latent grid; refuses conflicting flags."""
    if args.interpolate is not None and args.traverse:
        raise _UsageError("--interpolate and --traverse draw different grids; give only one")
    latent = args.interpolate is not None or args.traverse
    if latent and args.labels is not None:
        raise _UsageError(
            "--labels varies the class per image; a latent grid keeps one class: use --label K"
        )
    if not latent:
        given = [
            f
            for f, v in (
                ("--steps", args.steps),
                ("--dims", args.dims),
                ("--dataset", args.dataset),
            )
            if v is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise _UsageError(f"{', '.join(given)} {verb} to --interpolate or --traverse")
    elif args.dims is not None and args.interpolate is not None:
        raise _UsageError("--dims picks traversal rows; use it with --traverse, not --interpolate")
    return latent


def _sample_latent_grid(args):
    from tfgen import latent, saving

    if args.interpolate is not None:
        try:
            a, b = (int(v) for v in args.interpolate.split(","))
        except ValueError as e:
            raise _UsageError(
                f"--interpolate expects two integers A,B such as 3,7; got {args.interpolate!r}"
            ) from e
    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    steps = 8 if args.steps is None else args.steps
    if args.interpolate is not None:
        grid, note = latent.cli_interpolation(
            model, args.model, a, b, steps, args.label, args.dataset, args.data_dir
        )
    else:
        dims = 8 if args.dims is None else args.dims
        grid, note = latent.cli_traversal(
            model, args.model, dims, steps, args.seed, args.label, args.dataset, args.data_dir
        )
    path = latent.save_grid(grid, args.out)
    print(f"wrote {path} ({grid.shape[0]} x {grid.shape[1]} grid; {note})")


def _parse_labels(text):
    """`--labels 0,1,2` -> [0, 1, 2] (None when not given)."""
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise _UsageError(
            f"--labels expects comma-separated integers such as 0,1,2; got {text!r}"
        ) from e


def cmd_translate(args):
    from tfgen import data, io, saving

    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if not hasattr(model, "translate"):
        raise _UsageError(
            f"{args.model} is a {getattr(model, 'kind', type(model).__name__)}, which does not "
            "translate images; use a pix2pix or cyclegan model (or tfgen sample)"
        )
    images = data.read_images(args.input)
    if getattr(model, "kind", None) == "cyclegan":
        outputs = model.translate(images, direction=args.direction or "a2b")
    elif args.direction is not None:
        raise _UsageError(
            f"--direction picks a cyclegan's generator; {args.model} is a {model.kind} with one "
            "direction: drop --direction"
        )
    else:
        outputs = model.translate(images)
    path = io.save_images(outputs, args.out)
    print(f"wrote {path} ({len(outputs)} images)")


def cmd_export(args):
    from tfgen import export, saving

    if args.format == "tflite" and args.version is not None:
        raise _UsageError("--version applies to --format saved_model; a .tflite file has none")
    if args.format == "saved_model" and args.quantize != "none":
        raise _UsageError("--quantize applies to --format tflite; a SavedModel stays float32")
    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if args.format == "tflite":
        from tfgen.export import tflite

        images = None
        if args.quantize == "int8" and args.dataset:
            images = tflite.load_representative_images(
                model, args.dataset, args.dataset_b, args.representative, args.data_dir
            )
        content = tflite.convert(
            model,
            args.out,
            quantize=args.quantize,
            representative_images=images,
            num_representative=args.representative,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
        print(f"wrote {args.out} ({args.quantize}, {len(content):,} bytes)")
        return
    target = export.saved_model(model, args.out, version=args.version, overwrite=args.overwrite)
    print(f"wrote {target}")


def cmd_models_config(args):
    from tfgen import export

    path, names = export.write_models_config(args.root, base_path=args.base_path, out=args.out)
    print(f"wrote {path} ({len(names)} models: {', '.join(names)})")


def cmd_evaluate(args):
    from tfgen import io, saving
    from tfgen.evaluation.model_eval import evaluate_model

    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    results = evaluate_model(
        model,
        args.dataset,
        split=args.split,
        metrics=args.metrics,
        n=args.n,
        seed=args.seed,
        extractor=args.extractor,
        data_dir=args.data_dir,
    )
    print("| metric | value |\n| --- | --- |")
    for key, value in results.items():
        print(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
    if args.json:
        with io.atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(results, indent=2))


def cmd_list(args):
    import tfgen.models  # noqa: F401  (registers the kinds)
    from tfgen import registry

    print("model kinds: " + ", ".join(sorted(registry.MODEL_KINDS)))
    entries = registry.zoo_entries()
    print(f"zoo ({registry.zoo_dir()}):" if entries else "zoo: no entries installed")
    for name in entries:
        card = json.loads((registry.zoo_path(name) / "card.json").read_text())
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in card.get("metrics", {}).items()
        )
        print(f"  {name:28s} {card.get('kind', '?'):10s} {card.get('dataset', '?'):14s} {metrics}")


# ------------------------------------------------------------------------ parser
def _add_checkpoint_every(parser):
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="also checkpoint every N steps within epochs (a killed run resumes at that step)",
    )


def _add_dataset_b(parser):
    parser.add_argument(
        "--dataset-b",
        help="cyclegan: domain B (same kinds as --dataset); without it --dataset must hold "
        "both domains (trainA/ and trainB/ folders, or a TFDS name like cycle_gan/horse2zebra)",
    )


def _add_task(parser, help):
    parser.add_argument("--task", choices=("inpaint", "superres", "colorize"), help=help)


def build_parser():
    parser = _Parser(prog="tfgen", description="Image generative models for TensorFlow/Keras.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("train", help="train a model kind on a dataset")
    p.add_argument("kind", help="model kind: dcgan, wgan_gp, cgan, pix2pix, vae, cyclegan")
    p.add_argument("--dataset", required=True, help="TFDS name, IDX folder, image folder or .npz")
    _add_dataset_b(p)
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
    _add_task(
        p,
        "pix2pix: derive (input, target) pairs from --dataset (default: --dataset is a "
        "paired folder with input/ and target/ sub-folders of matching file names)",
    )
    p.add_argument("--limit", type=int, help="use only the first N images")
    _add_checkpoint_every(p)
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
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("finetune", help="fine-tune a trained model on a new dataset")
    p.add_argument("source", help="zoo name, .keras file or SavedModel exported by tfgen")
    p.add_argument("--dataset", required=True, help="TFDS name, IDX folder, image folder or .npz")
    _add_dataset_b(p)
    _add_task(p, "pix2pix: derive the pairs from --dataset (default: the model's own task)")
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategy", default="auto", help="auto, one, mirrored, multiworker, tpu")
    _add_checkpoint_every(p)
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("sample", help="generate images from a model")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        required=True,
        help="FILE.png (grid) or FILE.npy (uint8 N x H x W x C; rows x cols x H x W x C for "
        "--interpolate/--traverse)",
    )
    p.add_argument("--unsafe", action="store_true", help="load .keras files without safe mode")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument("--label", type=int, help="cgan: class of every image")
    labels.add_argument(
        "--labels", help="cgan: comma-separated classes, cycled over the --n images (0,1,2)"
    )
    p.add_argument(
        "--interpolate",
        metavar="A,B",
        help="latent interpolation grid (--n is ignored): a VAE goes from test image A to test "
        "image B of --dataset (indices into its test split; posterior means, linear path); a "
        "GAN from the latent of seed A to that of seed B (spherical path)",
    )
    p.add_argument(
        "--traverse",
        action="store_true",
        help="latent traversal grid: a 2-D latent over its prior's quantiles; otherwise one row "
        "per top-variance dimension swept from -1.645 to 1.645, the rest fixed at the latent of "
        "--seed",
    )
    p.add_argument("--steps", type=int, help="--interpolate/--traverse: columns (default 8)")
    p.add_argument("--dims", type=int, help="--traverse: dimensions, one row each (default 8)")
    p.add_argument(
        "--dataset",
        help="VAE --interpolate/--traverse: the test images (default: the model's dataset "
        "from its zoo card or run.json)",
    )
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("translate", help="translate images with an image-to-image model")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder (pix2pix, cyclegan)")
    p.add_argument(
        "--input", required=True, help="FILE.npy (N x H x W x C), an image file or a folder"
    )
    p.add_argument("--out", required=True, help="FILE.png (grid) or FILE.npy (uint8 N x H x W x C)")
    p.add_argument(
        "--direction",
        choices=("a2b", "b2a"),
        help="cyclegan: a2b (domain A -> B, the default) or b2a",
    )
    p.add_argument("--unsafe", action="store_true", help="load .keras files without safe mode")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("export", help="export a model for serving")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    p.add_argument("--format", default="saved_model", choices=("saved_model", "tflite"))
    p.add_argument(
        "--out",
        required=True,
        help="saved_model: base folder, the export goes to OUT/<version>/; tflite: FILE.tflite",
    )
    p.add_argument("--version", type=int, help="saved_model version (default: the next free one)")
    p.add_argument(
        "--quantize",
        default="none",
        choices=("none", "float16", "dynamic", "int8"),
        help="tflite: float32 weights (none), float16 weights, int8 weights (dynamic) or int8 "
        "weights and activations with float32 inputs and outputs (int8)",
    )
    p.add_argument(
        "--representative",
        type=int,
        default=100,
        metavar="N",
        help="int8: calibration samples (latent vectors, labels, images) per signature",
    )
    p.add_argument(
        "--dataset", help="int8: source of real input images to calibrate on (pix2pix, cyclegan)"
    )
    p.add_argument("--dataset-b", help="int8: CycleGAN domain B images (when --dataset has only A)")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument("--batch-size", type=int, default=1, help="tflite: fixed batch size (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version or file")
    p.add_argument("--unsafe", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("models-config", help="write TF Serving's models.config for a folder")
    p.add_argument("root", help="folder of exported models, one base folder (NAME/<version>/) each")
    p.add_argument(
        "--base-path",
        help="where ROOT is seen by the server, e.g. /models in the tensorflow/serving container "
        "(default: ROOT's absolute path)",
    )
    p.add_argument("--out", help="file to write (default: ROOT/models.config)")
    p.set_defaults(func=cmd_models_config)

    p = sub.add_parser("evaluate", help="score a model's samples against real data")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    p.add_argument("--dataset", required=True, help="the real data: TFDS name, folder or .npz")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--metrics",
        default="fid,kid,pr,coverage",
        help="comma list of fid, kid, pr, is, coverage, accuracy, nll",
    )
    p.add_argument("--n", type=int, default=1000, help="samples and real images (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--extractor", help="override: classifier_mnist, classifier_fashion_mnist, inception"
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--unsafe", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("list", help="list model kinds and zoo entries")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise _UsageError("tfgen: no command given (see tfgen --help)")
        args.func(args)
    except _UsageError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tfgen: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for the user; the traceback with --debug
        from tfgen.errors import TfgenUsageError

        if debug:
            raise
        code = EXIT_USAGE if isinstance(e, TfgenUsageError) else EXIT_FAILURE
        print(f"tfgen: error: {e}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
