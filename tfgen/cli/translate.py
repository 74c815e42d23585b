"""`tfgen translate`: translate images with an image-to-image model (pix2pix, cyclegan).

`--out` is a PNG grid (each row input | output, and | target with `--target`), a `.npy`
array, or a folder that gets one PNG per input, named after it.
"""

from tfgen.cli.common import UsageError


def add_parser(sub):
    p = sub.add_parser("translate", help="translate images with an image-to-image model")
    p.add_argument("model", help="zoo name, .keras file or SavedModel folder (pix2pix, cyclegan)")
    p.add_argument(
        "--input",
        required=True,
        help="FILE.npy (N x H x W x C), an image file, a folder, or a named set (emoji_google)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="FILE.png (grid: input | output [| target]), FILE.npy (uint8 N x H x W x C) or "
        "FOLDER/ (one PNG per input, named after it)",
    )
    p.add_argument(
        "--target",
        help="the true answers, a folder or set paired with --input by relative path: a third "
        "column in the grid",
    )
    p.add_argument("--split", default="test", help="named sets: the split to read (test)")
    p.add_argument("--limit", type=int, help="translate only the first N inputs")
    p.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
    p.add_argument(
        "--direction",
        choices=("a2b", "b2a"),
        help="cyclegan: a2b (domain A -> B, the default) or b2a",
    )
    p.add_argument("--unsafe", action="store_true", help="load .keras files without safe mode")
    p.set_defaults(func=run)


def _inputs(args):
    """`(images in [-1, 1], names, targets in [-1, 1] or None)`."""
    import pathlib

    from tfgen import data, io
    from tfgen.data import images as images_lib
    from tfgen.data import paired

    source = args.input
    is_folder = source in data.sources.LOCAL_FOLDER_NAMES or pathlib.Path(source).is_dir()
    if args.target is not None:
        if not is_folder:
            raise UsageError(
                "--target pairs folders by relative path: give a folder or set as --input"
            )
        x, y, names = paired.load_paired_folders(
            paired.split_folder(source, args.split, args.data_dir),
            paired.split_folder(args.target, args.split, args.data_dir),
        )
        return io.from_uint8(x), names, io.from_uint8(y)
    if is_folder:
        folder = paired.split_folder(source, args.split, args.data_dir)
        files = images_lib.list_image_files(folder)
        names = [f.relative_to(folder).with_suffix("").as_posix() for f in files]
        return data.read_images(folder), names, None
    images = data.read_images(source)
    stem = pathlib.Path(source).stem
    names = [stem] if len(images) == 1 else [f"{stem}_{i:04d}" for i in range(len(images))]
    return images, names, None


def run(args):
    import pathlib

    import numpy as np

    from tfgen import io, saving

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {args.limit}")
    out = pathlib.Path(args.out)
    if out.suffix.lower() not in (".png", ".npy", ""):
        raise UsageError(f"--out must be FILE.png, FILE.npy or a folder, got {out.name!r}")
    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if not hasattr(model, "translate"):
        raise UsageError(
            f"{args.model} is a {getattr(model, 'kind', type(model).__name__)}, which does not "
            "translate images; use a pix2pix or cyclegan model (or tfgen sample)"
        )
    images, names, targets = _inputs(args)
    if args.limit is not None:
        images, names = images[: args.limit], names[: args.limit]
        targets = None if targets is None else targets[: args.limit]
    if getattr(model, "kind", None) == "cyclegan":
        outputs = model.translate(images, direction=args.direction or "a2b")
    elif args.direction is not None:
        raise UsageError(
            f"--direction picks a cyclegan's generator; {args.model} is a {model.kind} with one "
            "direction: drop --direction"
        )
    else:
        outputs = model.translate(images)
    outputs = np.asarray(outputs)
    if out.suffix == "":
        for name, image in zip(names, io.to_uint8(outputs)):
            path = out / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            io.save_png(image, path)
        print(f"wrote {out}/ ({len(outputs)} PNG files named after the inputs)")
        return
    if out.suffix.lower() == ".png":
        columns = [images, outputs] + ([targets] if targets is not None else [])
        columns = [_at_size(c, outputs.shape[1:3]) for c in columns]  # superres: small inputs
        path = io.save_images(io.side_by_side(columns), out,
                              columns=len(columns) * (2 if len(outputs) > 8 else 1))  # fmt: skip
    else:
        path = io.save_images(outputs, out)
    print(f"wrote {path} ({len(outputs)} images)")


def _at_size(images, size):
    """Images shown at `size` (nearest neighbour), so a grid row lines up."""
    import numpy as np

    if tuple(images.shape[1:3]) == tuple(size):
        return images
    import tensorflow as tf

    return np.asarray(tf.image.resize(images, size, method="nearest"))
