"""Sources for tfgen: TFDS names, MNIST-style IDX folders, image folders, `.npz` files.

Every source comes out the same way: float32 images in [-1, 1] of shape (H, W, C),
batched and prefetched, with int32 labels when asked for.
"""

import gzip
import logging
import os
import pathlib
import struct

import numpy as np
import tensorflow as tf

from tfgen.data import images as images_lib
from tfgen.data.images import IMAGE_SUFFIXES
from tfgen.errors import TfgenUsageError

logger = logging.getLogger(__name__)

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# TFDS names whose local IDX copies `TFGEN_DATA_DIR` may hold.
LOCAL_IDX_NAMES = ("mnist", "fashion_mnist")
# Named image-folder sets under the data folder: <data dir>/<folder>/<split>/<class>/*.png.
LOCAL_FOLDER_NAMES = {"emoji_google": "emoji/google", "emoji_twitter": "emoji/twitter"}
TFDS_SPLIT_ALIASES = {"val": "validation"}


def _read_idx(path):
    """Reads one gzipped IDX file into a numpy array (uint8)."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise TfgenUsageError(
            f"{path} is not a readable gzipped IDX file ({e}); download or copy it again"
        ) from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise TfgenUsageError(
            f"{path} is not an unsigned-byte IDX file (bad magic number); "
            "expected MNIST-format files such as train-images-idx3-ubyte.gz"
        )
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise TfgenUsageError(
            f"{path} is truncated: header says {shape} ({int(np.prod(shape))} bytes), "
            f"found {body.size}; download or copy the file again"
        )
    return body.reshape(shape)


def is_idx_folder(path):
    path = pathlib.Path(path)
    return path.is_dir() and any((path / f).exists() for files in IDX_FILES.values() for f in files)


def load_idx(folder, split="train"):
    """Loads an MNIST-format IDX folder split as `(images uint8 [N, H, W, 1], labels int32 [N])`."""
    folder = pathlib.Path(folder)
    if split not in IDX_FILES:
        raise TfgenUsageError(
            f"unknown split {split!r} for IDX folder {folder}; use 'train' or 'test'"
        )
    image_file, label_file = (folder / name for name in IDX_FILES[split])
    if not image_file.exists():
        raise TfgenUsageError(
            f"{image_file} not found; an IDX folder needs {IDX_FILES[split][0]} for split {split!r}"
        )
    images = _read_idx(image_file)
    if images.ndim != 3:
        raise TfgenUsageError(
            f"{image_file} holds an array of shape {images.shape}, expected N x H x W"
        )
    labels = _read_idx(label_file).astype(np.int32) if label_file.exists() else None
    if labels is not None and len(labels) != len(images):
        raise TfgenUsageError(
            f"{label_file} has {len(labels)} labels for {len(images)} images in {image_file}"
        )
    return images[..., None], labels


def folder_class_names(folder, files=None):
    """The labels of an image folder, in label order: its top-level sub-folders that hold
    images, sorted; none when images lie both at the top and in sub-folders (no consistent
    labelling)."""
    folder = pathlib.Path(folder)
    files = images_lib.list_image_files(folder) if files is None else files
    names = sorted({p.parent.relative_to(folder).parts[0] for p in files if p.parent != folder})
    return [] if any(p.parent == folder for p in files) else names


def load_image_folder(folder, image_size=None, background="white"):
    """Loads a folder of images (recursive, symlinks followed) as uint8 arrays; class
    sub-folders become labels.

    Returns `(images [N, H, W, C], labels or None, class_names)`. Transparency is composited
    onto `background` (white, black, grey or #rrggbb). Corrupt files are skipped with one
    warning that names them; images of different sizes need `image_size`, which is checked
    from the files' headers before any is decoded.
    """
    folder = pathlib.Path(folder)
    background = images_lib.parse_background(background)
    files = images_lib.list_image_files(folder)
    if not files:
        raise TfgenUsageError(
            f"no images found in {folder} (looked recursively for {', '.join(IMAGE_SUFFIXES)})"
        )
    class_names = folder_class_names(folder, files)
    images_lib.check_sizes(files, image_size, folder)
    images, labels, bad = [], [], []
    for path in files:
        try:
            array = images_lib.decode(path, background)
        except Exception:  # PIL raises many types for corrupt files
            bad.append(path)
            continue
        if image_size is not None and array.shape[:2] != (image_size, image_size):
            array = tf.image.resize(array, (image_size, image_size), antialias=True).numpy()
            array = np.clip(np.round(array), 0, 255).astype(np.uint8)
        images.append(array)
        if class_names:
            labels.append(class_names.index(path.parent.relative_to(folder).parts[0]))
    if bad:
        names = ", ".join(str(p) for p in bad[:5]) + (" ..." if len(bad) > 5 else "")
        logger.warning("skipped %d corrupt image file(s) in %s: %s", len(bad), folder, names)
    if not images:
        raise TfgenUsageError(f"no readable images in {folder}: all {len(bad)} files are corrupt")
    channels = {a.shape[-1] for a in images}
    if len(channels) > 1:
        # Mixed grey and colour: promote grey to RGB so one batch holds both.
        images = [np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a for a in images]
    sizes = {a.shape[:2] for a in images}
    if len(sizes) > 1:
        raise TfgenUsageError(
            f"images in {folder} have {len(sizes)} different sizes (e.g. {sorted(sizes)[:3]}); "
            "pass image_size=N (--image-size N) to resize them all to N x N"
        )
    return np.stack(images), (np.asarray(labels, np.int32) if class_names else None), class_names


def load_npz(path):
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f:
                raise TfgenUsageError(
                    f"{path} has no array 'x' (found {sorted(f.files)}); save images as np.savez(path, x=images, y=labels)"
                )
            x = f["x"]
            y = f["y"].astype(np.int32) if "y" in f else None
    except (OSError, ValueError) as e:
        if isinstance(e, TfgenUsageError):
            raise
        raise TfgenUsageError(
            f"cannot read {path} as .npz ({e}); pass a file written by np.savez"
        ) from e
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise TfgenUsageError(
            f"{path}: 'x' has shape {x.shape}, expected N x H x W x C or N x H x W"
        )
    if y is not None and len(y) != len(x):
        raise TfgenUsageError(f"{path}: 'y' has {len(y)} labels for {len(x)} images")
    return x, y


def data_dir():
    """The folder of local dataset copies (`TFGEN_DATA_DIR`), or None."""
    value = os.environ.get("TFGEN_DATA_DIR")
    return pathlib.Path(value) if value else None


def local_folder(source, split, data_dir_override=None):
    """The folder of a named image-folder set (`emoji_google` -> <data dir>/emoji/google/<split>)."""
    local_root = pathlib.Path(data_dir_override) if data_dir_override else data_dir()
    if local_root is None:
        raise TfgenUsageError(
            f"{source} is read from the data folder: pass --data-dir DIR or set TFGEN_DATA_DIR=DIR "
            f"to the folder that holds {LOCAL_FOLDER_NAMES[source]}/"
        )
    folder = local_root / LOCAL_FOLDER_NAMES[source] / split
    if not folder.is_dir():
        raise TfgenUsageError(f"{source}: {folder} not found; the {split} split of {source} "
                              f"lives in {LOCAL_FOLDER_NAMES[source]}/{split}/ under the data folder")  # fmt: skip
    return folder


def load_arrays(source, split="train", image_size=None, data_dir_override=None,
                background="white"):  # fmt: skip
    """Loads a local source as `(images uint8 or float, labels or None)` numpy arrays.

    Returns None when `source` is a TFDS name with no local copy (the caller goes to TFDS).
    """
    local_root = pathlib.Path(data_dir_override) if data_dir_override else data_dir()
    path = pathlib.Path(source)
    if source in LOCAL_FOLDER_NAMES:
        images, labels, _ = load_image_folder(
            local_folder(source, split, data_dir_override), image_size, background
        )
        return images, labels
    if source in LOCAL_IDX_NAMES and local_root is not None and is_idx_folder(local_root / source):
        return load_idx(local_root / source, split)
    if path.suffix == ".npz":
        if not path.exists():
            raise TfgenUsageError(f"{path} does not exist; pass an existing .npz file")
        return load_npz(path)
    if path.is_dir():
        if is_idx_folder(path):
            return load_idx(path, split)
        split_dir = path / split
        images, labels, _ = load_image_folder(
            split_dir if split_dir.is_dir() else path, image_size, background
        )
        return images, labels
    if os.sep in str(source) or path.suffix or path.exists():
        raise TfgenUsageError(
            f"{source} does not exist; pass a TFDS name (e.g. mnist), an IDX folder, "
            "an image folder or an .npz file"
        )
    return None


def _held_out(images, labels, holdout, seed, source):
    n, part = holdout
    if not 0 < n < len(images):
        raise TfgenUsageError(
            f"cannot hold out {n} of the {len(images)} images of {source}; pick 0 < n < "
            f"{len(images)}"
        )
    order = np.random.default_rng(seed).permutation(len(images))
    keep = order[:n] if part == "validation" else order[n:]
    return images[keep], (labels[keep] if labels is not None else None)


def to_unit_range(images):
    """Maps uint8 [0, 255] (or float [0, 1] / [-1, 1]) images to float32 [-1, 1]."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


def _check_float_range(x, source):
    if x.dtype == np.uint8:
        return x
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo >= 0.0 and hi <= 1.0:
        return (x * 255.0).round().clip(0, 255).astype(np.uint8)
    if lo >= -1.0 and hi <= 1.0:
        return x.astype(np.float32)
    if lo >= 0 and hi <= 255:
        return x.round().astype(np.uint8)
    raise TfgenUsageError(
        f"{source}: pixel values span [{lo}, {hi}]; expected uint8 [0, 255] or floats in [0, 1] or [-1, 1]"
    )


def _tfds_dataset(name, split, with_labels, shuffle, seed):
    import tensorflow_datasets as tfds

    split = TFDS_SPLIT_ALIASES.get(split, split)
    try:
        builder = tfds.builder(name)
    except Exception as e:  # tfds raises DatasetNotFoundError and friends
        raise TfgenUsageError(
            f"unknown dataset {name!r}: not a local path and not a TFDS name ({type(e).__name__}); "
            "pass a TFDS name such as mnist, an IDX folder, an image folder or an .npz file"
        ) from e
    supervised = builder.info.supervised_keys is not None
    if with_labels and not supervised:
        raise TfgenUsageError(f"TFDS dataset {name!r} has no labels; drop with_labels / --labels")
    try:
        builder.download_and_prepare()
    except Exception as e:  # network, permission and disk errors of many kinds
        raise TfgenUsageError(
            f"TFDS could not download or prepare {name!r} ({type(e).__name__}: {e}). Without "
            "internet, keep local copies (e.g. <dir>/mnist/train-images-idx3-ubyte.gz) and pass "
            "--data-dir DIR or set TFGEN_DATA_DIR=DIR"
        ) from e
    ds = builder.as_dataset(
        split=split,
        as_supervised=supervised,
        shuffle_files=shuffle,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    )
    if supervised:
        ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda d: (d["image"], tf.constant(-1, tf.int32)))
    return ds, builder.info.features["image"].shape if "image" in builder.info.features else None


def _fit_channels(images, channels, source):
    have = images.shape[-1]
    if have not in (1, 3):
        raise TfgenUsageError(
            f"{source} has {have} channels; the models take 1 (grey) or 3 (RGB): "
            "convert the images to grey or RGB"
        )
    if channels is None or channels == have:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        grey = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return (
            grey[..., None].round().astype(images.dtype)
            if images.dtype == np.uint8
            else grey[..., None]
        )
    raise TfgenUsageError(
        f"{source} has {have} channels, asked for {channels}; channels must be 1 (grey) or 3 (RGB)"
    )


def subset_indices(total, limit, limit_seed=None):
    """Indices of the `limit` images a run keeps of `total`: the first ones, or with
    `limit_seed` a seeded draw from all of them (in stored order), e.g. a few-shot set."""
    if limit_seed is None:
        return np.arange(min(int(limit), total))
    if int(limit) > total:
        raise TfgenUsageError(f"limit {limit} is more than the {total} images there are")
    return np.sort(np.random.default_rng(int(limit_seed)).choice(total, int(limit), replace=False))


def balanced_indices(labels, balance, source="the dataset"):
    """Indices that repeat each image of class c `round((largest class / size of c) ** balance)`
    times: `balance` 1 evens the classes' shares, 0.5 keeps the square root of their ratios.

    For long-tailed few-shot sets (67 of 100 emoji are people), where an unconditional
    generator otherwise learns the rare classes from a handful of glimpses.
    """
    if labels is None:
        raise TfgenUsageError(
            f"data.balance repeats images by class, and {source} has no labels: use a folder "
            "with class sub-folders (or an .npz with 'y'), or drop data.balance"
        )
    labels = np.asarray(labels).reshape(-1)
    if len(labels) and labels.min() < 0:
        raise TfgenUsageError(
            f"data.balance needs class labels >= 0; {source} has {labels.min()}: fix its "
            "labels or drop data.balance"
        )
    counts = np.bincount(labels)
    present = counts > 0
    repeats = np.zeros_like(counts)
    # Halves round up (np.round would take 2.5 to 2 and 3.5 to 4).
    repeats[present] = np.maximum(
        1, np.floor((counts.max() / counts[present]) ** float(balance) + 0.5)
    ).astype(counts.dtype)
    # Copies sit side by side; load()'s shuffle buffer (10,000) mixes them for sets up to
    # that size, which few-shot sets are.
    return np.repeat(np.arange(len(labels)), repeats[labels])


def load(
    source,
    split="train",
    image_size=None,
    channels=None,
    batch_size=64,
    with_labels=False,
    shuffle=True,
    seed=0,
    drop_remainder=True,
    repeat=False,
    cache=True,
    data_dir=None,
    limit=None,
    background="white",
    holdout=None,
    limit_seed=None,
    balance=None,
):
    """Returns a batched, prefetched `tf.data.Dataset` of float32 images in [-1, 1].

    Args:
        source: str. A TFDS name (`mnist`, `fashion_mnist`, `cifar10`, ...), a folder in MNIST
            IDX `.gz` format, a folder of PNG/JPEG images (class sub-folders become labels) or an
            `.npz` file with `x` (and `y`). For the TFDS names `mnist` and `fashion_mnist`, a copy
            in `data_dir` (or `$TFGEN_DATA_DIR`) is used before any download.
        split: str. `"train"` or `"test"` (TFDS split strings work for TFDS sources).
        image_size: int or None. Resize images to `image_size x image_size`.
        channels: int or None. 1 or 3; grey is tiled to RGB, RGB is converted to grey.
        batch_size: int. The global batch size. Defaults to 64.
        with_labels: bool. Yield `(images, labels)` with int32 labels.
        shuffle: bool. Shuffle every epoch (seeded by `seed`).
        drop_remainder: bool. Drop the last partial batch so every replica gets a full batch.
        repeat: bool. Repeat forever (use with `steps_per_epoch`).
        cache: bool. Cache decoded TFDS images in memory (local arrays are in memory already).
        limit: int or None. Keep only the first `limit` images (before shuffling).
        background: str. What transparent pixels of image files become: white (default),
            black, grey or #rrggbb.
        limit_seed: int or None. With `limit`: draw the `limit` images from the whole split
            by this seed (`subset_indices`) instead of taking the first ones (local sources).
        holdout: `(n, part)` or None. After `limit`, a permutation seeded by `seed` puts n
            images aside: `part="validation"` gives those n, `"train"` the others (local
            sources only).
    """
    if batch_size is None or int(batch_size) < 1:
        raise TfgenUsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    if channels not in (None, 1, 3):
        raise TfgenUsageError(f"channels must be 1 or 3, got {channels!r}")
    arrays = load_arrays(source, split, image_size, data_dir, background)
    if arrays is not None:
        images, labels = arrays
        images = _check_float_range(images, source)
        if with_labels and labels is None:
            raise TfgenUsageError(
                f"{source} has no labels; use class sub-folders, an .npz with 'y', or drop --labels"
            )
        images = _fit_channels(images, channels, source)
        if limit is not None:
            keep = subset_indices(len(images), limit, limit_seed)
            images = images[keep]
            labels = labels[keep] if labels is not None else None
        if holdout is not None:
            images, labels = _held_out(images, labels, holdout, seed, source)
        if balance is not None and len(images):
            keep = balanced_indices(labels, balance, source)
            images, labels = images[keep], (labels[keep] if labels is not None else None)
        if len(images) == 0:
            raise TfgenUsageError(f"{source} split {split!r} holds no images")
        if drop_remainder and len(images) < batch_size:
            raise TfgenUsageError(
                f"{source} split {split!r} has {len(images)} images, fewer than batch_size={batch_size}; "
                "use a smaller --batch-size"
            )
        tensors = (images, labels) if with_labels else images
        ds = tf.data.Dataset.from_tensor_slices(tensors)
    else:
        if holdout is not None:
            raise TfgenUsageError(f"holding out validation images needs a local copy of {source}")
        if limit_seed is not None:
            raise TfgenUsageError(f"drawing images by limit_seed needs a local copy of {source}")
        if balance is not None:
            raise TfgenUsageError(
                f"data.balance repeats the images of a local copy, and {source} has none: "
                "pass --data-dir with a copy in class sub-folders, or drop data.balance"
            )
        ds, _ = _tfds_dataset(source, split, with_labels, shuffle, seed)
        if limit is not None:
            ds = ds.take(limit)
        if not with_labels:
            ds = ds.map(lambda x, y: x)
        if channels is not None:

            def fix(x):
                if x.shape[-1] == 1 and channels == 3:
                    return tf.image.grayscale_to_rgb(x)
                if x.shape[-1] == 3 and channels == 1:
                    return tf.image.rgb_to_grayscale(x)
                return x

            ds = ds.map((lambda x, y: (fix(x), y)) if with_labels else fix)

    def prepare(x):  # one image [H, W, C] or a batch [B, H, W, C]
        x = to_unit_range(x)
        height, width = x.shape[-3], x.shape[-2]
        if image_size is not None and (height != image_size or width != image_size):
            x = tf.image.resize(x, (image_size, image_size), antialias=True)
        return x

    def apply(ds, fn):
        fn_xy = (lambda x, y: (fn(x), y)) if with_labels else fn
        return ds.map(fn_xy, num_parallel_calls=tf.data.AUTOTUNE)

    # In-memory arrays (all one size) stay as they are (uint8: a quarter of float32's memory)
    # and are scaled a batch at a time after shuffling: one vectorized map per batch instead of
    # one per image, ~10x less input-pipeline CPU, which the training step shares on small
    # machines (benchmarks/benchmark.py). The shuffle order, and so every batch, is unchanged.
    # Decoded TFDS images may differ in size, so they are prepared (and cached) one by one.
    per_batch = arrays is not None
    if not per_batch:
        ds = apply(ds, prepare)
        if cache:
            ds = ds.cache()
    if repeat:
        ds = ds.repeat()
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    if per_batch:
        ds = apply(ds, prepare)
    return ds.prefetch(tf.data.AUTOTUNE)
