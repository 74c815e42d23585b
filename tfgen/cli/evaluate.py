"""`tfgen evaluate`: score a model's samples against real data (FID, KID, ...)."""

import json

DEFAULT = "fid,kid,pr,coverage"


def add_parser(sub):
    p = sub.add_parser("evaluate", help="score a model's samples against real data")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    p.add_argument("--dataset", required=True, help="the real data: TFDS name, folder or .npz")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--metrics",
        default=DEFAULT,
        help="comma list of fid, kid, pr, is, coverage, accuracy, nll, style (emoji), "
        "blur_reference; with --target (translators): pixels, fid, style",
    )
    p.add_argument("--n", type=int, default=1000, help="samples and real images (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--extractor", help="override: classifier_mnist, classifier_fashion_mnist, inception"
    )
    p.add_argument(
        "--target",
        help="pix2pix, cyclegan: the true answers, a folder or set paired with --dataset by "
        "relative path (e.g. --dataset emoji_google --target emoji_twitter); metrics then "
        "are pixels (MAE/PSNR/SSIM and the identity baseline), fid, style",
    )
    p.add_argument("--direction", choices=("a2b", "b2a"), help="cyclegan: which generator")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--unsafe", action="store_true")
    p.set_defaults(func=run)


def run(args):
    from tfgen import io, saving
    from tfgen.evaluation.model_eval import evaluate_model

    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if args.target is not None or getattr(model, "data_kind", None) in ("paired", "unpaired"):
        results = _translation(model, args)
    else:
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


def _translation(model, args):
    from tfgen.cli.common import UsageError
    from tfgen.evaluation import paired_translation as pt

    if args.target is None:
        raise UsageError(
            f"tfgen evaluate: a {model.kind} translates images; give --target, the true answers "
            "paired with --dataset by relative path (e.g. --dataset emoji_google --target "
            "emoji_twitter)"
        )
    metrics = (
        pt.METRICS if args.metrics == DEFAULT else tuple(m for m in args.metrics.split(",") if m)
    )
    if model.kind == "cyclegan" and args.direction is None:
        args.direction = "a2b"
    x, y, labels = pt.paired_test_images(args.dataset, args.target, args.split, args.data_dir,
                                         args.n)  # fmt: skip
    return pt.evaluate_translation(model, x, y, labels, target_dataset=args.target,
                                   direction=args.direction, metrics=metrics,
                                   extractor=args.extractor)  # fmt: skip
