"""Image files: listing a folder (symlinks followed), checking sizes from headers, decoding.

Transparency is never dropped silently: an image with alpha (RGBA, LA, or a palette or grey
image with a transparent colour) is composited onto a background, white by default. Dropping
alpha instead shows whatever colour the file stores under its transparent pixels (streaks on
Twemoji, black behind palette files).
"""

import os
import pathlib

import numpy as np

from tfgen.errors import TfgenUsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128)}


def parse_background(value):
    """`"white"`, `"black"`, `"grey"` or `"#rrggbb"` -> an (r, g, b) tuple of ints."""
    if isinstance(value, tuple | list) and len(value) == 3:
        return tuple(int(v) for v in value)
    text = str(value).strip().lower()
    if text in BACKGROUNDS:
        return BACKGROUNDS[text]
    if len(text) == 7 and text.startswith("#"):
        try:
            return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            pass
    raise TfgenUsageError(
        f"background {value!r} is not a colour; use white, black, grey or #rrggbb"
    )


def list_image_files(folder):
    """Image files under `folder`, recursively, sorted; symlinked folders are followed (once:
    a link back to an ancestor is not walked again)."""
    folder = pathlib.Path(folder)
    seen, files = set(), []
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        files += [
            pathlib.Path(root) / n
            for n in names
            if pathlib.Path(n).suffix.lower() in IMAGE_SUFFIXES
        ]
    return sorted(files)


def check_sizes(files, image_size, folder):
    """Refuses files of several sizes (without `image_size`) from their headers alone, before
    anything is decoded; unreadable headers are left for the decoder to report."""
    if image_size is not None or not files:
        return
    from PIL import Image

    sizes = {}
    for path in files:
        try:
            with Image.open(path) as im:
                sizes.setdefault(im.size, path)
        except Exception:  # PIL raises many types for corrupt files
            continue
        if len(sizes) > 1:
            (a, path_a), (b, path_b) = list(sizes.items())[:2]
            raise TfgenUsageError(
                f"images in {folder} differ in size: {path_a.name} is {a[0]}x{a[1]}, "
                f"{path_b.name} is {b[0]}x{b[1]}; pass --image-size N (data.image_size) to "
                "resize them all to N x N"
            )


def decode(path, background=BACKGROUNDS["white"]):
    """One image file as uint8 `[H, W, 1]` (grey) or `[H, W, 3]` (colour), with any
    transparency composited onto `background`."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        grey = im.mode in ("1", "L", "LA", "I", "I;16", "F") or (
            im.mode == "P" and _palette_is_grey(im)
        )
        if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
            rgba = im.convert("RGBA")
            base = Image.new("RGBA", rgba.size, (*background, 255))
            im = Image.alpha_composite(base, rgba)
            # A grey drawing on a coloured background is a colour image.
            grey = grey and len(set(background)) == 1
        im = im.convert("L" if grey else "RGB")
        array = np.asarray(im, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def _palette_is_grey(im):
    palette = np.asarray(im.getpalette() or [], np.uint8).reshape(-1, 3)
    return bool(len(palette)) and bool(np.all(palette == palette[:, :1]))
