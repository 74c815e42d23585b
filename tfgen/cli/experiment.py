"""`tfgen experiment FILE --out DIR`: the arms of an experiment file trained and measured
side by side, with a report (`tfgen.experiment`)."""

from tfgen.cli import common


def add_parser(sub):
    p = sub.add_parser(
        "experiment",
        help="run an experiment file's arms (recipes) and write a report of their measurements",
    )
    p.add_argument(
        "file", help="the experiment, e.g. recipes/experiments/fewshot_emoji_twitter.toml"
    )
    p.add_argument("--out", required=True, help="its folder: one sub-folder per run, report.md")
    common.add_overrides(p, "override a recipe key in every run, e.g. --set train.steps=200")
    p.add_argument("--arms", help="run only these arms (comma-separated); the report has all done")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="write report.md and the arms pictures from the runs done; train none",
    )
    p.set_defaults(func=run)


def run(args):
    import pathlib

    from tfgen import experiment as experiment_lib

    experiment = experiment_lib.load(args.file, args.overrides or ())  # answers before TF loads
    only = [a.strip() for a in args.arms.split(",")] if args.arms else None
    unknown = sorted(set(only or ()) - set(experiment.arms))
    if unknown:
        raise common.UsageError(
            f"tfgen experiment: no arm {', '.join(unknown)} in {args.file}; its arms: "
            f"{', '.join(experiment.arms)}"
        )
    out = pathlib.Path(args.out)
    if args.report_only:
        results = experiment_lib.collect(experiment, out)
        if not results:
            raise common.UsageError(f"tfgen experiment: no finished run under {out} to report")
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(experiment_lib.report(experiment, results))
        experiment_lib.pictures(experiment, out, args.data_dir)  # runs added since drawn
    else:
        experiment_lib.run(experiment, out, data_dir=args.data_dir, verbose=common.verbosity(),
                           only=only)  # fmt: skip
    print((out / "report.md").read_text())
