"""`tfgen sample`: generate images, or latent interpolation / traversal grids, from a model."""

from tfgen.cli.common import UsageError


def add_parser(sub):
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
    p.set_defaults(func=run)


def run(args):
    from tfgen import io, saving

    if _check_latent_flags(args):
        return _sample_latent_grid(args)
    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if args.n < 1:
        raise UsageError(f"--n must be >= 1, got {args.n}")
    labels = args.label if args.label is not None else _parse_labels(args.labels)
    if labels is not None:
        if not hasattr(model, "num_classes"):
            raise UsageError(
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
        raise UsageError("--interpolate and --traverse draw different grids; give only one")
    latent = args.interpolate is not None or args.traverse
    if latent and args.labels is not None:
        raise UsageError(
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
            raise UsageError(f"{', '.join(given)} {verb} to --interpolate or --traverse")
    elif args.dims is not None and args.interpolate is not None:
        raise UsageError("--dims picks traversal rows; use it with --traverse, not --interpolate")
    return latent


def _sample_latent_grid(args):
    from tfgen import latent, saving

    if args.interpolate is not None:
        try:
            a, b = (int(v) for v in args.interpolate.split(","))
        except ValueError as e:
            raise UsageError(
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
        raise UsageError(
            f"--labels expects comma-separated integers such as 0,1,2; got {text!r}"
        ) from e
