"""Unpaired data for image-to-image translation (CycleGAN): two domains, shuffled separately.

`load_unpaired` yields `(images_a, images_b)` batches of float32 images in [-1, 1]; the pairs
carry no correspondence, and one epoch is the larger domain's number of full batches while the
smaller domain repeats, reshuffled on every pass.
"""

import pathlib
import re

import numpy as np
import tensorflow as tf

from tfgen.data import sources
from tfgen.errors import TfgenUsageError

# TFDS names, with an optional config and version: "mnist", "cycle_gan/horse2zebra:2.0.0".
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-zA-Z0-9_.]+)?(:[0-9.*]+)?$")
SHUFFLE_BUFFER = 10_000


def is_tfds_name(source):
    """Whether `source` names a TFDS dataset rather than a local file or folder."""
    if not isinstance(source, str) or pathlib.Path(source).exists():
        return False
    if source in sources.LOCAL_IDX_NAMES and sources.data_dir() is not None:
        return False  # sources.load_arrays finds the local copy first
    return bool(_TFDS_NAME.match(source)) and not pathlib.Path(source).suffix


def _domain_arrays(source, split, image_size, data_dir, name, background="white"):
    """A local source (array, .npz, IDX folder, image folder) as a numpy image array."""
    if isinstance(source, np.ndarray):
        images = source
    elif isinstance(source, (str, pathlib.Path)):
        if is_tfds_name(str(source)) and "/" in str(source):
            # sources.load_arrays takes a "/" for a missing path; TFDS config names have one.
            return None
        arrays = sources.load_arrays(str(source), split, image_size, data_dir, background)
        if arrays is None:
            return None
        images = arrays[0]
    else:
        raise TfgenUsageError(
            f"domain {name}: expected a path, a TFDS name or a numpy array of images, "
            f"got {type(source).__name__}"
        )
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise TfgenUsageError(
            f"domain {name}: images must be N x H x W x C (or N x H x W), got shape {images.shape}"
        )
    return images


def domain_dataset(
    source,
    split="train",
    image_size=None,
    channels=None,
    batch_size=1,
    shuffle=True,
    seed=0,
    data_dir=None,
    limit=None,
    cache=True,
    name="A",
    background="white",
):
    """One domain as `(dataset of full batches, repeating forever; batches per pass)`.

    Args: as `load_unpaired`, for one source; `name` labels error messages.
    """
    images = _domain_arrays(source, split, image_size, data_dir, name, background)
    if images is not None:
        # The same range and channel rules as tfgen.data.load, so a source means the same
        # thing to every model.
        images = sources._check_float_range(images, f"domain {name}")
        images = sources._fit_channels(images, channels, f"domain {name}")
        if limit is not None:
            images = images[:limit]
        count = len(images)
        ds = tf.data.Dataset.from_tensor_slices(images)
    else:
        ds, _ = sources._tfds_dataset(str(source), split, False, shuffle, seed)
        ds = ds.map(lambda x, y: x)
        if limit is not None:
            ds = ds.take(limit)
        count = int(ds.cardinality())
        if count < 0:
            raise TfgenUsageError(
                f"domain {name}: the size of {source} split {split!r} is unknown, so no epoch "
                "length can be set; pass limit=N or a local copy"
            )
        if channels is not None:

            def fit_channels(x):
                if x.shape[-1] == 1 and channels == 3:
                    return tf.image.grayscale_to_rgb(x)
                if x.shape[-1] == 3 and channels == 1:
                    return tf.image.rgb_to_grayscale(x)
                return x

            ds = ds.map(fit_channels)
    if count < batch_size:
        raise TfgenUsageError(
            f"domain {name} ({source if isinstance(source, str) else 'array'}, split {split!r}) "
            f"has {count} images, fewer than batch_size={batch_size}; use a smaller batch size"
        )

    def prepare(x):
        x = sources.to_unit_range(x)
        if image_size is not None and (x.shape[0] != image_size or x.shape[1] != image_size):
            x = tf.image.resize(x, (image_size, image_size), antialias=True)
        return x

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(count, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=True).repeat()
    return ds, count // int(batch_size)


def _split_sources(source_a, split):
    """One source holding both domains: a folder with `<split>A/` and `<split>B/`
    sub-folders, or a TFDS name with `<split>A` / `<split>B` splits (cycle_gan/...)."""
    if isinstance(source_a, (str, pathlib.Path)):
        folder = pathlib.Path(source_a)
        if (folder / f"{split}A").is_dir() and (folder / f"{split}B").is_dir():
            return str(folder / f"{split}A"), str(folder / f"{split}B"), None, None
        if is_tfds_name(str(source_a)):
            return str(source_a), str(source_a), f"{split}A", f"{split}B"
    raise TfgenUsageError(
        f"one source was given ({source_a if isinstance(source_a, str) else 'an array'}) but it "
        f"holds no {split}A/{split}B domains; pass source_b (--dataset-b), a folder with "
        f"{split}A/ and {split}B/ sub-folders, or a TFDS name with {split}A/{split}B splits "
        "such as cycle_gan/horse2zebra"
    )


def load_unpaired(
    source_a,
    source_b=None,
    split="train",
    image_size=None,
    channels=None,
    batch_size=1,
    shuffle=True,
    seed=0,
    data_dir=None,
    limit=None,
    cache=True,
    background="white",
):
    """Returns a `tf.data.Dataset` of `(images_a, images_b)` batches, float32 in [-1, 1].

    The domains are drawn independently: each is shuffled with its own seed, and the pairs in
    a batch mean nothing. One epoch (the dataset's cardinality) is the larger domain's number
    of full batches; the smaller domain repeats, reshuffled on every pass, so every image of
    the larger domain is seen once per epoch. Partial batches are dropped.

    Args:
        source_a: the domain A source: a TFDS name, an MNIST IDX folder, a folder of images,
            an `.npz` file with `x`, or a numpy array of images (uint8, or floats in [0, 1] or
            [-1, 1]; N x H x W x C or N x H x W). Alone (`source_b=None`) it must hold both
            domains: a folder with `<split>A/` and `<split>B/` sub-folders, or a TFDS name
            with `<split>A`/`<split>B` splits such as `cycle_gan/horse2zebra`.
        source_b: the domain B source, of the same kinds, or None.
        split: str. "train" or "test" (for one source: the prefix of its A/B parts).
        image_size: int or None. Resize both domains to `image_size x image_size`.
        channels: int or None. 1 or 3 for both domains.
        batch_size: int. Images per domain in a batch (the global batch). Defaults to 1 (the
            paper's).
        shuffle: bool. Shuffle each domain on every pass.
        seed: int. Domain A shuffles with `seed`, domain B with `seed + 1`.
        data_dir: str or None. Local dataset copies (default `$TFGEN_DATA_DIR`).
        limit: int or None. Keep only the first `limit` images of each domain.
        cache: bool. Cache decoded images in memory.
        background: what transparent pixels of image files become (white, black, grey, #rrggbb).
    """
    if batch_size is None or int(batch_size) < 1:
        raise TfgenUsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    if channels not in (None, 1, 3):
        raise TfgenUsageError(f"channels must be 1 or 3, got {channels!r}")
    splits = (split, split)
    if source_b is None:
        source_a, source_b, split_a, split_b = _split_sources(source_a, split)
        if split_a is not None:
            splits = (split_a, split_b)
    options = dict(
        image_size=image_size,
        channels=channels,
        batch_size=int(batch_size),
        shuffle=shuffle,
        data_dir=data_dir,
        limit=limit,
        cache=cache,
        background=background,
    )
    ds_a, batches_a = domain_dataset(source_a, splits[0], seed=seed, name="A", **options)
    ds_b, batches_b = domain_dataset(source_b, splits[1], seed=seed + 1, name="B", **options)
    shape_a, shape_b = ds_a.element_spec.shape, ds_b.element_spec.shape
    if None not in shape_a[1:3] and None not in shape_b[1:3] and shape_a[1:3] != shape_b[1:3]:
        raise TfgenUsageError(
            f"the domains have different image sizes ({shape_a[1]}x{shape_a[2]} and "
            f"{shape_b[1]}x{shape_b[2]}); pass image_size=N (--image-size N) to resize both"
        )
    ds = tf.data.Dataset.zip((ds_a, ds_b)).take(max(batches_a, batches_b))
    return ds.prefetch(tf.data.AUTOTUNE)
