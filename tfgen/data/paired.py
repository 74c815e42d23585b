"""Paired images for image-to-image models (pix2pix): `(input, target)` batches in [-1, 1].

Pairs come from two folders of matching file names, or are derived from one dataset by a task:
`inpaint` (a masked square to fill), `superres` (x4 down-sampled input) or `colorize`.
"""

import pathlib

import numpy as np
import tensorflow as tf

from tfgen.data import images as images_lib
from tfgen.data import sources
from tfgen.errors import TfgenUsageError

TASKS = ("inpaint", "superres", "colorize")
UPSAMPLE_METHODS = ("nearest", "bilinear", "bicubic")
PAIRED_FOLDERS = ("input", "target")


# ------------------------------------------------------------------------ tasks
def resolve_task_options(task, image_shape=None, options=None):
    """A task's options with defaults filled in, checked against the image shape.

    - inpaint: `mask_size` (side of the masked square; default a third of the image side),
      `fill` (value inside the mask, default 0: mid grey in [-1, 1]).
    - superres: `factor` (default 4), `upsample` (how the low-resolution input is brought back
      to full size: `nearest` (default: the low-resolution pixels exactly), `bilinear`,
      `bicubic`).
    - colorize: no options; needs 3-channel images.
    """
    if task not in TASKS:
        raise TfgenUsageError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    height, width, channels = image_shape if image_shape is not None else (None, None, None)
    defaults = {
        "inpaint": {"mask_size": max(1, (height or 28) // 3), "fill": 0.0},
        "superres": {"factor": 4, "upsample": "nearest"},
        "colorize": {},
    }[task]
    unknown = set(options or {}) - set(defaults)
    if unknown:
        raise TfgenUsageError(
            f"unknown {task} option(s) {sorted(unknown)}; known: {sorted(defaults) or 'none'}"
        )
    options = {**defaults, **(options or {})}
    if task == "inpaint":
        if height is not None and not 1 <= int(options["mask_size"]) <= min(height, width):
            raise TfgenUsageError(
                f"inpaint mask_size must be in [1, {min(height, width)}], got {options['mask_size']}"
            )
    elif task == "superres":
        factor = int(options["factor"])
        if factor < 2:
            raise TfgenUsageError(f"superres factor must be >= 2, got {factor}")
        if options["upsample"] not in UPSAMPLE_METHODS:
            raise TfgenUsageError(
                f"superres upsample must be one of {', '.join(UPSAMPLE_METHODS)}, "
                f"got {options['upsample']!r}"
            )
        if height is not None and (height % factor or width % factor):
            raise TfgenUsageError(
                f"superres x{factor} needs image sides divisible by {factor}, got "
                f"{height}x{width}; pass --image-size {max(factor, height // factor * factor)} "
                "or another factor"
            )
    elif channels is not None and channels != 3:
        raise TfgenUsageError(
            f"colorize needs colour (3-channel) images, got {channels} channel(s): grey "
            "datasets such as mnist and fashion_mnist have no colour to learn; choose "
            "--task superres or inpaint, or a colour dataset (e.g. cifar10)"
        )
    return options


def downsample(images, factor):
    """Box (area) down-sampling by an integer factor: each output pixel averages a block."""
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[1], images.shape[2]
    return tf.image.resize(images, (height // factor, width // factor), method="area")


def upsample(images, size, method="nearest"):
    """Resizes low-resolution images to `size` (H, W) and clips to [-1, 1]."""
    images = tf.image.resize(tf.convert_to_tensor(images, tf.float32), size, method=method)
    return tf.clip_by_value(images, -1.0, 1.0)  # bicubic overshoots


def superres_inputs(images, factor=4, upsample_method="nearest"):
    """The x`factor` down-sampled images, brought back to full size."""
    images = tf.convert_to_tensor(images, tf.float32)
    return upsample(downsample(images, factor), images.shape[1:3], upsample_method)


def inpaint_mask(batch, height, width, mask_size, seed):
    """A [B, H, W, 1] float mask, 1 inside one square per image at a random place."""
    corner = tf.random.stateless_uniform(
        [batch, 2], seed=seed, minval=0, maxval=1.0, dtype=tf.float32
    )
    top = tf.cast(corner[:, 0] * (height - mask_size + 1), tf.int32)
    left = tf.cast(corner[:, 1] * (width - mask_size + 1), tf.int32)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside_rows = (rows >= top[:, None, None]) & (rows < top[:, None, None] + mask_size)
    inside_cols = (cols >= left[:, None, None]) & (cols < left[:, None, None] + mask_size)
    return tf.cast(inside_rows & inside_cols, tf.float32)[..., None]


def inpaint_inputs(images, mask_size, seed, fill=0.0):
    """Images with one square per image replaced by `fill`."""
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    mask = inpaint_mask(shape[0], images.shape[1], images.shape[2], int(mask_size), seed)
    return images * (1.0 - mask) + fill * mask


def colorize_inputs(images):
    """Grey versions of RGB images (ITU-R 601 luma), one channel."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape[-1] != 3:
        resolve_task_options("colorize", tuple(images.shape[1:]))  # raises the clear error
    return tf.image.rgb_to_grayscale(images)


def make_pairs(images, task, seed=(0, 0), options=None):
    """`(inputs, targets)` for a batch of [-1, 1] images; `seed` ([2] ints) places masks."""
    images = tf.convert_to_tensor(images, tf.float32)
    options = resolve_task_options(task, tuple(images.shape[1:]), options)
    if task == "inpaint":
        inputs = inpaint_inputs(images, options["mask_size"], seed, options["fill"])
    elif task == "superres":
        inputs = superres_inputs(images, options["factor"], options["upsample"])
    else:
        inputs = colorize_inputs(images)
    return inputs, images


# ------------------------------------------------------------------------ folders
def _image_files(folder):
    """Relative path without suffix (`animals_nature/1f436`) -> file."""
    return {
        p.relative_to(folder).with_suffix("").as_posix(): p
        for p in images_lib.list_image_files(folder)
    }


def _decode_all(paths, image_size, background="white"):
    background = images_lib.parse_background(background)
    images_lib.check_sizes(paths, image_size, paths[0].parent if paths else "")
    arrays = []
    for path in paths:
        try:
            array = images_lib.decode(path, background)
        except Exception as e:  # PIL raises many types for corrupt files
            raise TfgenUsageError(f"cannot read {path} as an image ({e}); fix or remove it") from e
        if image_size is not None and array.shape[:2] != (image_size, image_size):
            array = tf.image.resize(array, (image_size, image_size), antialias=True).numpy()
            array = np.clip(np.round(array), 0, 255).astype(np.uint8)
        arrays.append(array)
    if len({a.shape[-1] for a in arrays}) > 1:
        # Grey drawings among colour ones (Noto's grey-with-alpha emoji): tile them to RGB.
        arrays = [np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a for a in arrays]
    if len({a.shape for a in arrays}) > 1:
        raise TfgenUsageError(
            f"images in {paths[0].parent} differ in size or channels "
            f"({sorted({a.shape for a in arrays})[:3]}); pass --image-size N"
        )
    return np.stack(arrays)


def load_paired_folders(input_dir, target_dir, image_size=None, background="white"):
    """Pairs the images of two folders by relative path (sub-folders kept, suffix ignored).

    Returns `(inputs uint8 [N, H, W, C_in], targets uint8 [N, H, W, C_out], names)`.
    """
    input_dir, target_dir = pathlib.Path(input_dir), pathlib.Path(target_dir)
    for folder in (input_dir, target_dir):
        if not folder.is_dir():
            raise TfgenUsageError(f"{folder} is not a folder; pass a folder of images")
    inputs, targets = _image_files(input_dir), _image_files(target_dir)
    names = sorted(set(inputs) & set(targets))
    if not names:
        raise TfgenUsageError(
            f"no file names in common between {input_dir} ({len(inputs)} images) and "
            f"{target_dir} ({len(targets)} images); pairs must share names, e.g. "
            "input/cat1.png and target/cat1.png"
        )
    unmatched = sorted(set(inputs) ^ set(targets))
    if unmatched:
        where = input_dir if unmatched[0] in inputs else target_dir
        raise TfgenUsageError(
            f"{len(unmatched)} image(s) have no partner of the same relative path in the other "
            f"folder, e.g. {unmatched[0]} in {where}; every input needs a target"
        )
    x = _decode_all([inputs[n] for n in names], image_size, background)
    y = _decode_all([targets[n] for n in names], image_size, background)
    if x.shape[1:3] != y.shape[1:3]:
        raise TfgenUsageError(
            f"inputs are {x.shape[1]}x{x.shape[2]} but targets {y.shape[1]}x{y.shape[2]}; "
            "pass --image-size N to resize both"
        )
    return x, y, names


def split_folder(source, split, data_dir=None):
    """One side of a pair of folders: a named set (`emoji_twitter`), `source/<split>/` when it
    exists, or `source` itself."""
    if source in sources.LOCAL_FOLDER_NAMES:
        return sources.local_folder(source, split, data_dir)
    root = pathlib.Path(source)
    if not root.is_dir():
        raise TfgenUsageError(f"{source} is not a folder of images or a named image set "
                              f"({', '.join(sources.LOCAL_FOLDER_NAMES)})")  # fmt: skip
    return root / split if (root / split).is_dir() else root


def paired_folders(source, split="train"):
    """`(input_dir, target_dir)` of a paired folder: `source/[split/]input` and `.../target`."""
    root = pathlib.Path(source)
    for base in (root / split, root):
        if all((base / name).is_dir() for name in PAIRED_FOLDERS):
            return base / "input", base / "target"
    return None


# ------------------------------------------------------------------------ datasets
def load(
    source,
    task=None,
    split="train",
    image_size=None,
    channels=None,
    batch_size=64,
    shuffle=True,
    seed=0,
    drop_remainder=True,
    repeat=False,
    cache=True,
    data_dir=None,
    limit=None,
    task_options=None,
    target=None,
    background="white",
):
    """A batched dataset of `(inputs, targets)`, float32 in [-1, 1].

    Args:
        source: a paired folder (`input/` and `target/` sub-folders of images with matching
            names, optionally under `train/` and `test/`) when `task` is None; otherwise any
            `tfgen.data.load` source (TFDS name, IDX folder, image folder, .npz).
        task: None, `"inpaint"`, `"superres"` or `"colorize"` (see `resolve_task_options`).
        task_options: dict. Options of the task (see `resolve_task_options`).
        target: the targets' folder or named set (e.g. `emoji_twitter`), paired with `source`'s
            images by relative path; each side reads `<folder>/<split>/` when it exists.
        background: what transparent pixels become (white, black, grey or #rrggbb).
        The other arguments are those of `tfgen.data.load`. Inpainting masks are drawn per
        batch from `seed` and the batch's position in the stream: the same run gives the same
        masks, and each epoch new ones.
    """
    if task is not None and target is not None:
        raise TfgenUsageError(
            "give --task (pairs derived from one dataset) or a target folder, not both"
        )
    if task is None:
        folders = (
            (split_folder(source, split, data_dir), split_folder(target, split, data_dir))
            if target is not None
            else paired_folders(source, split)
        )
        if folders is None:
            raise TfgenUsageError(
                f"{source} is not a paired folder (input/ and target/ sub-folders, optionally "
                f"under {split}/); pass the targets' folder (--target, data.target), or --task "
                "inpaint, superres or colorize to derive pairs from one dataset"
            )
        if channels is not None:
            raise TfgenUsageError(
                "--channels applies to pairs derived by --task; a paired folder keeps the "
                "channels of its input and target images (convert the files instead)"
            )
        x, y, _ = load_paired_folders(*folders, image_size=image_size, background=background)
        if limit is not None:
            x, y = x[:limit], y[:limit]
        if drop_remainder and len(x) < batch_size:
            raise TfgenUsageError(
                f"{source} has {len(x)} pairs, fewer than batch_size={batch_size}; "
                "use a smaller --batch-size"
            )
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.map(lambda a, b: (sources.to_unit_range(a), sources.to_unit_range(b)))
        if cache:
            ds = ds.cache()
        if repeat:
            ds = ds.repeat()
        if shuffle:
            ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
        return ds.prefetch(tf.data.AUTOTUNE)

    images = sources.load(
        source,
        split=split,
        image_size=image_size,
        channels=channels,
        batch_size=batch_size,
        with_labels=False,
        shuffle=shuffle,
        seed=seed,
        drop_remainder=drop_remainder,
        repeat=repeat,
        cache=cache,
        data_dir=data_dir,
        limit=limit,
        background=background,
    )
    options = resolve_task_options(task, tuple(images.element_spec.shape[1:]), task_options)

    def pair(index, batch):
        return make_pairs(batch, task, tf.stack([tf.cast(seed, tf.int64), index]), options)

    return (
        images.enumerate().map(pair, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    )


# ------------------------------------------------------------------------ inputs
def read_images(path, image_size=None):
    """Images to translate from a `.npy` / `.npz` file, one image file or a folder.

    Returns float32 `[N, H, W, C]` in [-1, 1]. `.npy` arrays may be uint8 [0, 255] or floats
    in [0, 1] or [-1, 1] (the rules of `tfgen.data.load`), of shape `[N, H, W, C]`,
    `[N, H, W]` (grey) or one image `[H, W, C]`.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise TfgenUsageError(f"{path} does not exist; pass a .npy file, an image or a folder")
    if path.is_dir():
        images, _, _ = sources.load_image_folder(path, image_size)
    elif path.suffix.lower() == ".npz":
        images, _ = sources.load_npz(path)
    elif path.suffix.lower() == ".npy":
        try:
            images = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise TfgenUsageError(f"cannot read {path} as .npy ({e})") from e
        if images.ndim == 3 and images.shape[-1] not in (1, 3):
            images = images[..., None]  # [N, H, W] grey
        elif images.ndim == 3:
            images = images[None]  # one [H, W, C] image
        if images.ndim != 4:
            raise TfgenUsageError(
                f"{path} holds an array of shape {images.shape}; expected N x H x W x C"
            )
    elif path.suffix.lower() in images_lib.IMAGE_SUFFIXES:
        images = _decode_all([path], image_size)
    else:
        raise TfgenUsageError(
            f"cannot read {path.name}: pass a .npy file, an image "
            f"({', '.join(images_lib.IMAGE_SUFFIXES)}) or a folder of images"
        )
    if len(images) == 0:
        raise TfgenUsageError(f"{path} holds no images; pass at least one image to translate")
    images = sources._check_float_range(np.asarray(images), path)
    return sources.to_unit_range(tf.convert_to_tensor(images)).numpy()
