"""`tfgen evaluate`: score a model's samples against real data (FID, KID, ...)."""

import json


def add_parser(sub):
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
    p.set_defaults(func=run)


def run(args):
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
