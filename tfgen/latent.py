"""Latent-space visualisation: interpolation and traversal grids for VAEs and noise GANs.

Grids are float32 arrays `[rows, cols, H, W, C]` in [-1, 1]; `save_grid` writes them as one
PNG (a row per grid row) or as a uint8 `.npy` of the same shape.
"""

import pathlib

import numpy as np
import tensorflow as tf
from scipy import stats

from tfgen import io
from tfgen.errors import TfgenUsageError

# Traversal values are prior quantiles in [QUANTILE, 1 - QUANTILE]: the central 90 % of
# N(0, 1), i.e. z in [-1.645, 1.645] (Kingma & Welling's 2-D manifold plot uses the same).
QUANTILE = 0.05
# Below this sin(angle) two directions count as (anti)parallel and slerp falls back to lerp.
PARALLEL_EPS = 1e-6
# GAN dimension ranking: traversals from this many prior draws are averaged.
PROBE_BASES = 4


def _kind(model):
    return getattr(model, "kind", type(model).__name__)


def is_vae(model):
    """True for models with an encoder posterior and a decoder likelihood (VAE)."""
    return hasattr(model, "encode") and hasattr(model, "decode")


def check_latent_model(model):
    """Raises a usage error for models without a latent prior to move through."""
    if hasattr(model, "translate") or not getattr(model, "latent_dim", None):
        raise TfgenUsageError(
            f"a {_kind(model)} model maps images to images and has no latent space to "
            "interpolate or traverse; use a dcgan, wgan_gp, cgan or vae model (or tfgen translate)"
        )
    if not hasattr(model, "generate"):
        raise TfgenUsageError(f"a {_kind(model)} model cannot decode latent vectors")


# ------------------------------------------------------------------------ paths
def lerp(a, b, t):
    """Linear interpolation `(1 - t) a + t b` for each `t`: `[len(t), ...]`."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64).reshape(-1, *([1] * a.ndim))
    return (1.0 - t) * a + t * b


def slerp(a, b, t):
    """Spherical interpolation of direction with linear interpolation of length.

    The direction moves along the great circle from `a / |a|` to `b / |b|` at constant angular
    speed (Shoemake 1985) and the length goes linearly from `|a|` to `|b|`, so every point's
    norm lies between the endpoints' norms (unit vectors stay on the unit sphere).

    Why for Gaussian GAN latents: a draw from N(0, I_d) has norm close to sqrt(d), so the
    prior's mass sits on a thin shell. The midpoint of a straight line between two draws has
    norm about sqrt(d / 2) (0.71 of the shell's radius for independent draws), a region the
    generator almost never saw in training; slerp stays on the shell (White 2016,
    https://arxiv.org/abs/1609.04468). (Anti)parallel endpoints have no unique great circle
    and fall back to `lerp`.

    Args:
        a: array `[..., D]`. Start vector(s).
        b: array `[..., D]`. End vector(s), same shape.
        t: array `[T]` of fractions in [0, 1].

    Returns:
        float64 array `[T, ..., D]`; `t = 0` gives `a` and `t = 1` gives `b` exactly.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise TfgenUsageError(f"slerp endpoints differ in shape: {a.shape} vs {b.shape}")
    t = np.asarray(t, np.float64).reshape(-1, *([1] * a.ndim))
    norm_a = np.linalg.norm(a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=-1, keepdims=True)
    unit_a = a / np.maximum(norm_a, 1e-12)
    unit_b = b / np.maximum(norm_b, 1e-12)
    cos = np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > PARALLEL_EPS
    sin = np.where(safe, sin, 1.0)
    direction = (np.sin((1.0 - t) * omega) * unit_a + np.sin(t * omega) * unit_b) / sin
    length = (1.0 - t) * norm_a + t * norm_b
    out = np.where(safe, direction * length, lerp(a, b, t))
    # Round-off in normalise-then-rescale moves the endpoints by an ulp; pin them exactly.
    out = np.where(t == 0.0, a, out)
    return np.where(t == 1.0, b, out)


# ------------------------------------------------------------------------ latents
def prior_latents(model, seeds):
    """One prior draw per seed, `[len(seeds), latent_dim]` float32.

    The draw equals the latent `model.generate(1, seed=s)` decodes, so the endpoint of an
    interpolation between seeds is the image `tfgen sample --n 1 --seed s` gives.
    """
    check_latent_model(model)
    rows = []
    for seed in np.atleast_1d(seeds):
        seed = int(seed)
        if is_vae(model):  # VAE.generate draws z with stateless seed [seed, 3]
            z = tf.random.stateless_normal([1, model.latent_dim], seed=[seed % (2**31 - 1), 3])
        else:
            z = model.latent_noise(1, seed)
        rows.append(np.asarray(z, np.float32))
    return np.concatenate(rows)


def encode_means(model, images, batch_size=256):
    """Posterior means E[z | x] of a VAE for float images in [-1, 1], `[N, latent_dim]`."""
    if not is_vae(model):
        raise TfgenUsageError(f"a {_kind(model)} has no encoder; only a VAE encodes images")
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    means = [
        np.asarray(model.encode(images[i : i + batch_size]).mean())
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(means).astype(np.float32)


def decode_latents(model, z, label=None, batch_size=256):
    """Images in [-1, 1] (numpy `[N, H, W, C]`) for latents `z` `[N, latent_dim]`.

    The VAE decodes to the likelihood's mean image; a cgan draws every image of class `label`
    (0 when None).
    """
    check_latent_model(model)
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[-1] != model.latent_dim:
        raise TfgenUsageError(
            f"expected latents of shape [n, {model.latent_dim}], got {list(z.shape)}"
        )
    if getattr(model, "num_classes", None):
        images = model.generate(z=z, labels=0 if label is None else int(label))
    elif label is not None:
        raise TfgenUsageError(
            f"--label needs a label-conditioned model (cgan); this one is a {_kind(model)}"
        )
    elif is_vae(model):
        images = np.concatenate(
            [
                np.asarray(model.generate(z=z[i : i + batch_size]))
                for i in range(0, len(z), batch_size)
            ]
        )
    else:
        images = model.generate(z=z, batch_size=batch_size)
    return np.asarray(images, np.float32)


def _endpoint_latents(model, value, name):
    """An endpoint: a seed (int), a latent vector `[D]`/`[R, D]` or VAE images."""
    if isinstance(value, (int, np.integer)):
        return prior_latents(model, [value])
    array = np.asarray(value)
    if np.issubdtype(array.dtype, np.integer) and array.ndim == 1:
        return prior_latents(model, array)  # a list of seeds: one row each
    if array.ndim in (1, 2) and array.shape[-1] == model.latent_dim:
        return np.atleast_2d(array).astype(np.float32)
    if array.ndim in (3, 4):
        if not is_vae(model):
            raise TfgenUsageError(
                f"{name}: a {_kind(model)} cannot encode images; pass seeds or latent vectors"
            )
        return encode_means(model, array)
    raise TfgenUsageError(
        f"{name} must be a seed, latent vectors [{model.latent_dim}] or images [H, W, C], "
        f"got an array of shape {array.shape}"
    )


# ------------------------------------------------------------------------ grids
def interpolation_latents(model, a, b, steps=8, method=None):
    """The latents of `interpolation_grid`: float32 `[rows, steps, latent_dim]`.

    Column 0 is exactly the latent of `a` and the last column exactly that of `b`. Arguments
    as in `interpolation_grid`.
    """
    check_latent_model(model)
    if int(steps) < 2:
        raise TfgenUsageError(f"--steps must be >= 2 for an interpolation, got {steps}")
    method = method or ("linear" if is_vae(model) else "slerp")
    if method not in ("slerp", "linear"):
        raise TfgenUsageError(f"method must be 'slerp' or 'linear', got {method!r}")
    z_a, z_b = _endpoint_latents(model, a, "a"), _endpoint_latents(model, b, "b")
    if z_a.shape != z_b.shape:
        raise TfgenUsageError(
            f"a gives {len(z_a)} endpoint(s) and b {len(z_b)}; pass the same number of each"
        )
    path = (slerp if method == "slerp" else lerp)(z_a, z_b, np.linspace(0.0, 1.0, int(steps)))
    return np.transpose(path, (1, 0, 2)).astype(np.float32)  # [rows, steps, D]


def interpolation_grid(model, a, b, steps=8, method=None, label=None):
    """Decodes `steps` latents on the path from `a` to `b`; one row per endpoint pair.

    Args:
        model: a VAE or a noise GAN (dcgan, wgan_gp, cgan).
        a: int seed, list of seeds, latent vector(s) `[D]` / `[R, D]`, or (VAE only) image(s)
            `[H, W, C]` / `[R, H, W, C]` in [-1, 1] whose posterior means are the endpoints.
            A seed's latent is the one `model.generate(1, seed=seed)` decodes.
        b: the other endpoint(s), in the same form and number as `a`.
        steps: int >= 2. Columns, endpoints included. Defaults to 8.
        method: `"slerp"`, `"linear"` or None: linear for a VAE (posterior means are not
            prior draws, so there is no shell to stay on), slerp otherwise (see `slerp`).
        label: int or None. A cgan's class for every image (0 when None).

    Returns:
        float32 `[rows, steps, H, W, C]` in [-1, 1]. Column 0 decodes `a`, the last column `b`.
    """
    z = interpolation_latents(model, a, b, steps, method)
    rows, cols, dim = z.shape
    images = decode_latents(model, z.reshape(rows * cols, dim), label)
    return images.reshape(rows, cols, *images.shape[1:])


def traversal_values(steps=8, quantile=QUANTILE):
    """`steps` latent values at evenly spaced prior quantiles in [quantile, 1 - quantile]."""
    if int(steps) < 2:
        raise TfgenUsageError(f"--steps must be >= 2 for a traversal, got {steps}")
    return stats.norm.ppf(np.linspace(quantile, 1.0 - quantile, int(steps))).astype(np.float32)


def posterior_mean_variance(model, images):
    """Variance over `images` of each latent's posterior mean (Burda et al.'s unit activity).

    Dimensions the VAE does not use (posterior collapsed onto the prior) have a mean that
    ignores the input, so their variance is near 0; the most varying ones carry the content.
    """
    return encode_means(model, images).var(axis=0)


def output_variance(model, steps=8, label=None, seed=0, bases=PROBE_BASES):
    """For each latent dimension, the pixel variance its sweep causes in the output.

    Each dimension is swept over `traversal_values(steps)` with the rest fixed at `bases`
    prior draws (seeds `seed`, `seed + 1`, ...); the per-pixel variance along each sweep is
    averaged over pixels and bases. Used to rank a GAN's dimensions, which have no encoder.

    Returns:
        float64 `[latent_dim]`.
    """
    values = traversal_values(steps)
    dim = model.latent_dim
    scores = np.zeros(dim, np.float64)
    for base in prior_latents(model, range(int(seed), int(seed) + int(bases))):
        z = traversal_latents(base, range(dim), values)  # [D, S, D]
        images = decode_latents(model, z.reshape(-1, dim), label)
        images = images.reshape(dim, len(values), -1)
        scores += images.var(axis=1).mean(axis=1)
    return scores / int(bases)


def traversal_latents(base, dims, values):
    """Latents `[len(dims), len(values), D]`: row r is `base` with `dims[r]` set to each value."""
    base = np.asarray(base, np.float32).reshape(-1)
    values = np.asarray(values, np.float32)
    z = np.repeat(base[None, None], len(dims), axis=0).repeat(len(values), axis=1)
    z[np.arange(len(dims)), :, list(dims)] = values
    return z


def top_dims(scores, k):
    """Indices of the `k` largest scores, largest first (ties by lower index)."""
    scores = np.asarray(scores)
    k = min(int(k), len(scores))
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def traversal_grid(
    model, dims=8, steps=8, images=None, base=None, seed=0, label=None, quantile=QUANTILE
):
    """Decodes latents swept one dimension at a time (or a 2-D latent over a square).

    A 2-D latent gives the classic manifold plot: a `steps x steps` grid over the prior's
    quantiles in both dimensions (row: z[1], column: z[0]). Otherwise each row sweeps one
    dimension over `traversal_values(steps)` with the others fixed at `base`.

    Which dimensions: an int `dims` takes the top-`dims` by variance. For a VAE given
    `images` that is the variance of the posterior means over the images (the dimensions the
    encoder uses); for a GAN (or a VAE without images) it is the output variance each
    dimension's sweep causes (`output_variance`). A list of ints names the dimensions.

    Args:
        model: a VAE or a noise GAN.
        dims: int or list of ints. Rows (dimensions to sweep). Defaults to 8.
        steps: int >= 2. Columns (values per dimension). Defaults to 8.
        images: float images `[N, H, W, C]` in [-1, 1] or None (VAE dimension ranking).
        base: latent vector `[D]` or None: the fixed values; None draws it from the prior
            with `seed` (the latent of `model.generate(1, seed=seed)`).
        seed: int. Seed of `base` (and of the GAN ranking's probes).
        label: int or None. A cgan's class for every image (0 when None).
        quantile: float. Values span the prior quantiles [quantile, 1 - quantile].

    Returns:
        `(grid, dims)`: float32 `[rows, steps, H, W, C]` and the swept dimensions (for a 2-D
        latent `[1, 0]`, the row and column dimensions).
    """
    check_latent_model(model)
    values = traversal_values(steps, quantile)
    dim = model.latent_dim
    if dim == 2 and base is None and (dims is None or isinstance(dims, (int, np.integer))):
        grid_z = np.stack(np.meshgrid(values, values[::-1]), axis=-1)  # row: z1 high -> low
        images_out = decode_latents(model, grid_z.reshape(-1, 2), label)
        return images_out.reshape(len(values), len(values), *images_out.shape[1:]), [1, 0]
    if base is None:
        base = prior_latents(model, [seed])[0]
    base = np.asarray(base, np.float32).reshape(-1)
    if base.shape != (dim,):
        raise TfgenUsageError(f"base must be a latent vector of {dim} values, got {base.shape}")
    if dims is None or isinstance(dims, (int, np.integer)):
        k = dim if dims is None else int(dims)
        if k < 1:
            raise TfgenUsageError(f"--dims must be >= 1, got {k}")
        if is_vae(model) and images is not None:
            scores = posterior_mean_variance(model, images)
        else:
            scores = output_variance(model, len(values), label, seed)
        dims = top_dims(scores, k)
    else:
        dims = [int(d) for d in dims]
        bad = [d for d in dims if not 0 <= d < dim]
        if bad or not dims:
            raise TfgenUsageError(f"dims must be in [0, {dim}), got {bad or dims}")
    z = traversal_latents(base, dims, values)
    images_out = decode_latents(model, z.reshape(-1, dim), label)
    return images_out.reshape(len(dims), len(values), *images_out.shape[1:]), dims


def save_grid(grid, path):
    """Writes a grid `[rows, cols, H, W, C]` in [-1, 1]: a PNG (one image row per grid row) or
    a uint8 `.npy` of the same shape, atomically."""
    path = pathlib.Path(path)
    grid = np.asarray(grid)
    if grid.ndim != 5:
        raise TfgenUsageError(f"a grid is [rows, cols, H, W, C], got shape {grid.shape}")
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise TfgenUsageError(
            f"--out must end in .png (a grid) or .npy (an array), got {path.name!r}"
        )
    rows, cols = grid.shape[:2]
    pixels = io.to_uint8(grid)
    if suffix == ".png":
        io.save_png(io.image_grid(pixels.reshape(rows * cols, *grid.shape[2:]), cols), path)
    else:
        with io.atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, pixels, allow_pickle=False)
    return path


# ------------------------------------------------------------------------ the CLI's jobs
# Test images a VAE traversal ranks its dimensions on.
RANKING_IMAGES = 1000


def model_dataset(source):
    """The dataset a model was trained on, from its zoo card or its run folder's run.json.

    Returns None when neither names one (a `.keras` file elsewhere, a SavedModel).
    """
    import json

    from tfgen import saving

    try:
        path = saving.resolve(source)
    except TfgenUsageError:
        return None
    for name, key in (("card.json", "dataset"), ("run.json", "dataset")):
        info = path.parent / name
        if info.is_file():
            try:
                value = json.loads(info.read_text()).get(key)
            except (OSError, ValueError):
                continue
            if isinstance(value, str) and value.strip():
                # Cards may annotate the name: "mnist (shared IDX copy: ...)".
                return value.split()[0]
    return None


def split_images(model, dataset, limit, data_dir=None):
    """Up to `limit` images of `dataset`'s test split, sized for `model`, in [-1, 1]."""
    from tfgen import data

    size, _, channels = model.image_shape
    ds = data.load(
        dataset,
        split="test",
        image_size=size,
        channels=channels,
        batch_size=256,
        shuffle=False,
        drop_remainder=False,
        data_dir=data_dir,
        limit=int(limit),
    )
    return np.concatenate([np.asarray(batch) for batch in ds])


def _vae_dataset(model_source, dataset, what):
    dataset = dataset or model_dataset(model_source)
    if dataset is None:
        raise TfgenUsageError(
            f"{what} reads test images, and {model_source} names no dataset; pass --dataset"
        )
    return dataset


def cli_interpolation(model, model_source, a, b, steps, label=None, dataset=None, data_dir=None):
    """`tfgen sample --interpolate A,B`: test images A and B (VAE) or seeds A and B (GANs).

    Returns `(grid [1, steps, H, W, C], note)`, the note saying what the endpoints were.
    """
    check_latent_model(model)
    if not is_vae(model):
        return interpolation_grid(model, a, b, steps, label=label), f"seeds {a} -> {b}, slerp"
    if label is not None:
        raise TfgenUsageError("--label needs a label-conditioned model (cgan); this is a vae")
    if min(a, b) < 0:
        raise TfgenUsageError(f"--interpolate indices must be >= 0, got {a},{b}")
    dataset = _vae_dataset(model_source, dataset, "a VAE's --interpolate")
    images = split_images(model, dataset, max(a, b) + 1, data_dir)
    if max(a, b) >= len(images):
        raise TfgenUsageError(
            f"--interpolate index {max(a, b)} is past the end of {dataset}'s test split "
            f"({len(images)} images); use indices 0..{len(images) - 1}"
        )
    grid = interpolation_grid(model, images[a], images[b], steps)
    return grid, f"{dataset} test images {a} -> {b}, linear in posterior means"


def cli_traversal(
    model, model_source, dims, steps, seed=0, label=None, dataset=None, data_dir=None
):
    """`tfgen sample --traverse`: returns `(grid, note)`; the note lists the swept dims."""
    check_latent_model(model)
    if is_vae(model) and label is not None:
        raise TfgenUsageError("--label needs a label-conditioned model (cgan); this is a vae")
    images = None
    if is_vae(model) and model.latent_dim != 2:
        dataset = _vae_dataset(model_source, dataset, "a VAE's --traverse (to rank dimensions)")
        images = split_images(model, dataset, RANKING_IMAGES, data_dir)
    grid, swept = traversal_grid(model, dims, steps, images=images, seed=seed, label=label)
    if model.latent_dim == 2 and len(swept) == 2 and grid.shape[0] == grid.shape[1]:
        return grid, "2-D latent over the prior's quantiles: rows z[1], columns z[0]"
    ranked_by = "posterior-mean variance" if images is not None else "output variance"
    return grid, f"rows: dims {', '.join(map(str, swept))} by {ranked_by}"
