"""`tfgen models-config`: write TF Serving's models.config for a folder of exports."""


def add_parser(sub):
    p = sub.add_parser("models-config", help="write TF Serving's models.config for a folder")
    p.add_argument("root", help="folder of exported models, one base folder (NAME/<version>/) each")
    p.add_argument(
        "--base-path",
        help="where ROOT is seen by the server, e.g. /models in the tensorflow/serving container "
        "(default: ROOT's absolute path)",
    )
    p.add_argument("--out", help="file to write (default: ROOT/models.config)")
    p.set_defaults(func=run)


def run(args):
    from tfgen import export

    path, names = export.write_models_config(args.root, base_path=args.base_path, out=args.out)
    print(f"wrote {path} ({len(names)} models: {', '.join(names)})")
