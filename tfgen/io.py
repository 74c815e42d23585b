"""Writing files safely: atomic replace, image grids, uint8 conversion.

Everything tfgen writes goes to a temporary name in the same folder and is renamed into
place, so a crash leaves the old file or the new one, never a broken one.
"""

import contextlib
import errno
import os
import pathlib
import shutil
import tempfile

import numpy as np

from tfgen.errors import TfgenError, TfgenUsageError


@contextlib.contextmanager
def atomic_path(path, is_dir=False):
    """Yields a temporary path beside `path`; renames it onto `path` if the block succeeds.

    The temporary path lives in a hidden `.NAME.XXXX.tmp` folder in the same folder (a rename
    within one file system is atomic), which is removed whatever happens. If the block or the
    rename fails, `path` keeps its old content (or stays absent), and folders made for it
    are removed again when empty: a failed write leaves nothing behind.

    Args:
        path: path. The file (or, with `is_dir`, folder) to write.
        is_dir: bool. `path` is a folder; an old one is swapped out and deleted on success.
    """
    path = pathlib.Path(path)
    parent = path.parent
    made = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TfgenUsageError(
            f"cannot create folder {parent} ({e.strerror}); choose a writable --out"
        ) from e
    if not os.access(parent, os.W_OK):
        _remove_empty(made)
        raise TfgenUsageError(f"folder {parent} is not writable; choose a writable --out")
    try:
        tmp_dir = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        _remove_empty(made)
        raise TfgenUsageError(
            f"cannot write in {parent} ({e.strerror}); choose a writable --out"
        ) from e
    tmp = tmp_dir / path.name
    done = False
    try:
        yield tmp
        if is_dir and path.exists():
            old = tmp_dir / ".old"
            os.replace(path, old)  # a directory cannot be replaced in one step
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the old folder back
                raise
        else:
            os.replace(tmp, path)
        done = True
    except OSError as e:
        if e.errno in _STORAGE_ERRORS:
            raise TfgenError(
                f"could not write {path}: {e.strerror}; nothing was changed there; free disk "
                "space or choose another --out"
            ) from e
        raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if not done:
            _remove_empty(made)


# Failures of the storage rather than of the program: reported as one line (exit 1).
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO, errno.EFBIG}


def remove_stale_temporaries(folder):
    """Deletes the temporary folders `atomic_path` left in `folder` when a process was killed
    mid-write (its cleanup never ran). Only for folders no other process is writing into."""
    folder = pathlib.Path(folder)
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)


def make_folder(path):
    """`mkdir -p path`; a path that cannot be a folder is a usage error naming it."""
    path = pathlib.Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TfgenUsageError(
            f"cannot create folder {path} ({e.strerror}); choose a writable --out"
        ) from e
    return path


def _remove_empty(folders):
    """Removes the folders `atomic_path` made (deepest first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def from_uint8(images):
    """uint8 [0, 255] images -> float32 numpy in [-1, 1] (the inverse of `to_uint8`)."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_uint8(images):
    """float images in [-1, 1] -> uint8 [0, 255]."""
    images = np.asarray(images, np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images, columns=None, padding=2):
    """Tiles uint8 images [N, H, W, C] into one image [rows*H, cols*W, C]."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.full(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, images.dtype
    )
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def label_rows(grid, labels, row_height, padding=2):
    """`grid` (uint8 [H, W, C] from `image_grid`) with a white margin on the left that names
    each row: `labels[i]` beside row i, in Pillow's default font."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    margin = 8 + max(int(measure.textlength(str(label), font=font)) for label in labels)
    grid = np.asarray(grid)
    canvas = Image.new("RGB", (grid.shape[1] + margin, grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid if grid.shape[-1] == 3 else np.repeat(grid, 3, -1)),
                 (margin, 0))  # fmt: skip
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        middle = padding + i * (row_height + padding) + row_height // 2
        draw.text((4, middle), str(label), fill="black", font=font, anchor="lm")
    return np.asarray(canvas)


def save_png(array, path):
    """Writes a uint8 image [H, W, C] (C = 1 or 3) as PNG, atomically."""
    from PIL import Image

    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def same_channels(image_sets):
    """The image sets as arrays, those with fewer channels repeated up to the most (grey
    shown beside RGB in one grid)."""
    image_sets = [np.asarray(s) for s in image_sets]
    channels = max(s.shape[-1] for s in image_sets)
    return [np.repeat(s, channels, -1) if s.shape[-1] < channels else s for s in image_sets]


def side_by_side(image_sets):
    """Equal-length image sets [N, H, W, C] interleaved item by item ([N * len(sets), H, W, C]),
    so a grid of `len(sets)` columns shows each item's images next to each other (input |
    output | truth); sets with fewer channels are repeated up to the most (grey beside RGB)."""
    stacked = np.stack(same_channels(image_sets), axis=1)  # N x sets x H x W x C
    return stacked.reshape((-1, *stacked.shape[2:]))


def save_images(images, path, columns=None):
    """Saves images in [-1, 1] as a PNG grid (`.png`) or a uint8 array N x H x W x C (`.npy`)."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise TfgenUsageError(
            f"--out must end in .png (a grid) or .npy (an array), got {path.name!r}"
        )
    images = to_uint8(images)
    if suffix == ".png":
        save_png(image_grid(images, columns), path)
    else:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, images, allow_pickle=False)
    return path
