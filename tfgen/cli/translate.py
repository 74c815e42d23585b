"""`tfgen translate`: translate images with an image-to-image model (pix2pix, cyclegan)."""

from tfgen.cli.common import UsageError


def add_parser(sub):
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
    p.set_defaults(func=run)


def run(args):
    from tfgen import data, io, saving

    model = saving.load_model(args.model, safe_mode=not args.unsafe, compile=False)
    if not hasattr(model, "translate"):
        raise UsageError(
            f"{args.model} is a {getattr(model, 'kind', type(model).__name__)}, which does not "
            "translate images; use a pix2pix or cyclegan model (or tfgen sample)"
        )
    images = data.read_images(args.input)
    if getattr(model, "kind", None) == "cyclegan":
        outputs = model.translate(images, direction=args.direction or "a2b")
    elif args.direction is not None:
        raise UsageError(
            f"--direction picks a cyclegan's generator; {args.model} is a {model.kind} with one "
            "direction: drop --direction"
        )
    else:
        outputs = model.translate(images)
    path = io.save_images(outputs, args.out)
    print(f"wrote {path} ({len(outputs)} images)")
