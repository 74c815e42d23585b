"""`tfgen rebuild NAME`: a zoo entry end to end from `recipes/NAME.toml` (`tfgen.zoo.rebuild`)."""

from tfgen.cli import common


def add_parser(sub):
    p = sub.add_parser(
        "rebuild",
        help="rebuild a zoo entry from its recipe: train, evaluate, card, savedmodels/, docs",
    )
    p.add_argument("name", help="zoo entry, e.g. dcgan_mnist (its recipe: recipes/NAME.toml)")
    common.add_overrides(
        p, "override a recipe key (recorded in the card's notes), e.g. --set train.steps=200"
    )
    p.add_argument(
        "--run-dir",
        help="the training run's folder (default runs/NAME): an interrupted run resumes, a "
        "finished run of the same recipe is evaluated and published without training",
    )
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument(
        "--docs-dir", help="where the picture goes: DOCS/images/zoo/NAME.png (default docs/)"
    )
    p.add_argument(
        "--no-publish", action="store_true", help="train and evaluate only; print the card"
    )
    p.set_defaults(func=run)


def run(args):
    import json

    from tfgen import config
    from tfgen.zoo import rebuild as rebuild_lib

    path = rebuild_lib.recipe_path(args.name)
    if not path.is_file():
        names = ", ".join(rebuild_lib.entries())
        raise common.UsageError(f"tfgen rebuild: no recipe {path}; the zoo's recipes: {names}")
    config.load(path, args.overrides)  # a bad key answers before TensorFlow loads
    card = rebuild_lib.rebuild(
        args.name,
        args.overrides or (),
        run_dir=args.run_dir,
        data_dir=args.data_dir,
        publish=not args.no_publish,
        verbose=common.verbosity(),
        docs_dir=args.docs_dir,
    )
    if args.no_publish:
        print(json.dumps(card["metrics"], indent=2))
