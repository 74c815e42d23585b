"""`tfgen export`: export a model as a TF Serving SavedModel or a TFLite file."""

from tfgen.cli.common import UsageError


def add_parser(sub):
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
    p.set_defaults(func=run)


def run(args):
    from tfgen import export, saving

    if args.format == "tflite" and args.version is not None:
        raise UsageError("--version applies to --format saved_model; a .tflite file has none")
    if args.format == "saved_model" and args.quantize != "none":
        raise UsageError("--quantize applies to --format tflite; a SavedModel stays float32")
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
