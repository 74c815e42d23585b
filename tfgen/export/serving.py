"""Export: SavedModels in TF Serving's folder layout (`path/<version>/`) with named signatures
per model kind, and the `models.config` that serves a folder of them.

Each export carries the model's `.keras` file as an asset (`assets/tfgen_model.keras`), so
`tfgen.saving.load_model` can rebuild the Keras model with addressable layers from it.
TFLite/LiteRT conversion lives beside it in `tfgen.export.tflite`.

Signatures (`SIGNATURES[kind]`; `signature_table(path)` lists an export's inputs and outputs):

- dcgan, wgan_gp: `serving_default` z -> images; `generate` (batch_size, seed) -> images.
- cgan: `serving_default` (z, label) -> images; `generate` (batch_size, seed, label) -> images.
- pix2pix: `serving_default` = `translate` float32 images -> images; `translate_uint8`.
- cyclegan: `serving_default` = `a2b`; `b2a`; `a2b_uint8`, `b2a_uint8`.
- vae: `serving_default` = `decode` z -> images; `encode` images -> (mean, scale);
  `reconstruct` images -> images; `generate` (batch_size, seed) -> images.

Every image output comes twice: `images` (float32 in [-1, 1]) and `images_uint8` (uint8 in
[0, 255], `round((x + 1) * 127.5)`). Batch dimensions are free (`-1`); the other dimensions and
the dtypes are fixed by each signature's input_signature, so a call with the wrong shape or dtype
fails instead of computing garbage. `generate` draws z with `tf.random.stateless_normal`, so the
same seed always gives the same images, and equals `model.generate(n, seed=seed)`.
"""

import pathlib
import tempfile

import tensorflow as tf

from tfgen import io
from tfgen.errors import TfgenUsageError
from tfgen.saving import KERAS_ASSET


def next_version(path):
    """The next free TF Serving version number under `path` (1 when there is none)."""
    path = pathlib.Path(path)
    versions = [int(p.name) for p in path.iterdir() if p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def _uint8(images):
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def _image_outputs(images):
    images = tf.cast(images, tf.float32)
    return {"images": images, "images_uint8": _uint8(images)}


def _from_uint8(images):
    """uint8 [0, 255] -> float32 [-1, 1], the inverse of `_uint8` on the grid of grey levels."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def _static_shape(network, name):
    """The input shape of a one-input network without its batch dimension, as a list."""
    shape = list(network.inputs[0].shape[1:])
    if not shape:
        raise TfgenUsageError(f"{name} has no input shape to build a serving signature from")
    return shape


def _latent(batch_size, seed, latent_dim, salt):
    """z for `generate`: the same draw as the models' `generate(n, seed=seed)`."""
    # A control dependency: without one the graph may run the generator on an empty batch
    # (and fail with a shape error) before the check reports the real mistake.
    check = tf.debugging.assert_positive(batch_size, message="batch_size must be >= 1")
    with tf.control_dependencies([check]):
        batch_size = tf.identity(batch_size)
    return tf.random.stateless_normal(
        tf.stack([batch_size, latent_dim]), seed=tf.stack([seed, tf.constant(salt, tf.int64)])
    )


_BATCH_SIZE = tf.TensorSpec([], tf.int32, name="batch_size")
_SEED = tf.TensorSpec([], tf.int64, name="seed")


# --------------------------------------------------------------------------- per kind
def gan_signatures(module, model):
    """dcgan, wgan_gp: `serving_default` z -> images; `generate` (batch_size, seed) -> images.

    Inputs: `z` float32 [-1, latent_dim]; `batch_size` int32 scalar; `seed` int64 scalar.
    Outputs: `images` float32 [-1, H, W, C] in [-1, 1]; `images_uint8` uint8 [-1, H, W, C].
    """
    module.generator = model.sampling_generator
    latent_dim = model.latent_dim

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
    def serve(z):
        return _image_outputs(module.generator(z, training=False))

    @tf.function(input_signature=[_BATCH_SIZE, _SEED])
    def generate(batch_size, seed):
        z = _latent(batch_size, seed, latent_dim, salt=1)
        return _image_outputs(module.generator(z, training=False))

    return {"serving_default": serve, "generate": generate}


def _check_labels(labels, num_classes):
    """Out-of-range labels would silently pick a zero (GPU) or garbage embedding: refuse them."""
    return [
        tf.debugging.assert_non_negative(labels, message="label must be >= 0"),
        tf.debugging.assert_less(
            labels, tf.constant(num_classes, labels.dtype), message=f"label must be < {num_classes}"
        ),
    ]


def cgan_signatures(module, model):
    """cgan: `serving_default` (z, label) -> images; `generate` (batch_size, seed, label) -> images.

    Inputs: `z` float32 [-1, latent_dim]; `label` int32 [-1] (one class per row of z, in
    [0, num_classes)); for `generate`, `batch_size` int32 scalar, `seed` int64 scalar and
    `label` int32 scalar (every image of that class).
    Outputs: `images` float32 [-1, H, W, C] in [-1, 1]; `images_uint8` uint8 [-1, H, W, C].
    """
    module.generator = model.sampling_generator
    latent_dim = int(model.generator.inputs[0].shape[-1])
    num_classes = int(model.num_classes)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, latent_dim], tf.float32, name="z"),
            tf.TensorSpec([None], tf.int32, name="label"),
        ]
    )
    def serve(z, label):
        checks = _check_labels(label, num_classes)
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(z)[0], tf.shape(label)[0], message="z and label need the same batch size"
            )
        )
        with tf.control_dependencies(checks):
            return _image_outputs(module.generator([z, label], training=False))

    @tf.function(input_signature=[_BATCH_SIZE, _SEED, tf.TensorSpec([], tf.int32, name="label")])
    def generate(batch_size, seed, label):
        with tf.control_dependencies(_check_labels(label, num_classes)):
            z = _latent(batch_size, seed, latent_dim, salt=1)
            labels = tf.fill([batch_size], label)
            return _image_outputs(module.generator([z, labels], training=False))

    return {"serving_default": serve, "generate": generate}


def _translation_pair(generator, name):
    """(float32 signature, uint8 signature) for one image -> image generator."""
    shape = _static_shape(generator, name)

    @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.float32, name="images")])
    def translate(images):
        return _image_outputs(generator(images, training=False))

    @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8, name="images")])
    def translate_uint8(images):
        return _image_outputs(generator(_from_uint8(images), training=False))

    return translate, translate_uint8


def pix2pix_signatures(module, model):
    """pix2pix: `serving_default` = `translate` and `translate_uint8`: images -> images.

    Inputs: `images` [-1, H, W, C_in], float32 in [-1, 1] (`translate`) or uint8 in [0, 255]
    (`translate_uint8`). Outputs: `images` float32 [-1, H, W, C_out] in [-1, 1];
    `images_uint8` uint8 [-1, H, W, C_out].
    """
    module.generator = model.sampling_generator  # the EMA copy when the model keeps one
    translate, translate_uint8 = _translation_pair(module.generator, "the pix2pix generator")
    return {
        "serving_default": translate,
        "translate": translate,
        "translate_uint8": translate_uint8,
    }


def cyclegan_signatures(module, model):
    """cyclegan: `serving_default` = `a2b`; `b2a`; `a2b_uint8`, `b2a_uint8`: images -> images.

    Inputs: `images` [-1, H, W, C] of the source domain, float32 in [-1, 1] or (the `_uint8`
    signatures) uint8 in [0, 255]. Outputs: `images` float32 [-1, H, W, C'] in [-1, 1] and
    `images_uint8` uint8 of the other domain.
    """
    module.generator_a2b = model.sampling_generator_for("a2b")  # the EMA copies when kept
    module.generator_b2a = model.sampling_generator_for("b2a")
    a2b, a2b_uint8 = _translation_pair(module.generator_a2b, "generator_a2b")
    b2a, b2a_uint8 = _translation_pair(module.generator_b2a, "generator_b2a")
    return {
        "serving_default": a2b,
        "a2b": a2b,
        "b2a": b2a,
        "a2b_uint8": a2b_uint8,
        "b2a_uint8": b2a_uint8,
    }


def vae_signatures(module, model):
    """vae: `serving_default` = `decode`; `encode`; `reconstruct`; `generate`.

    - `encode`: `images` float32 [-1, H, W, C] in [-1, 1] -> `mean`, `scale` float32
      [-1, latent_dim] (the Gaussian posterior q(z | x)).
    - `decode`: `z` float32 [-1, latent_dim] -> the likelihood's mean image.
    - `reconstruct`: `images` -> decode(mean of q(z | x)).
    - `generate`: `batch_size` int32, `seed` int64 scalars -> decode(z ~ N(0, I)).
    Image outputs: `images` float32 [-1, H, W, C] in [-1, 1]; `images_uint8` uint8.
    """
    # The model's own methods hold the posterior and likelihood maths; the module tracks the
    # networks so the SavedModel owns their variables.
    module.encoder = model.encoder
    module.decoder = model.decoder
    latent_dim = int(model.latent_dim)
    image_spec = tf.TensorSpec([None, *model.image_shape], tf.float32, name="images")

    def decode_mean(z):
        return model.generate(z=z, seed=0, mode="mean")

    @tf.function(input_signature=[image_spec])
    def encode(images):
        posterior = model.encode(images)
        return {"mean": posterior.mean(), "scale": posterior.stddev()}

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
    def decode(z):
        return _image_outputs(decode_mean(z))

    @tf.function(input_signature=[image_spec])
    def reconstruct(images):
        return _image_outputs(decode_mean(model.encode(images).mean()))

    @tf.function(input_signature=[_BATCH_SIZE, _SEED])
    def generate(batch_size, seed):
        # VAE.generate reduces its seed modulo 2**31 - 1 and draws z with salt 3.
        z = _latent(batch_size, tf.math.floormod(seed, 2**31 - 1), latent_dim, salt=3)
        return _image_outputs(decode_mean(z))

    return {
        "serving_default": decode,
        "decode": decode,
        "encode": encode,
        "reconstruct": reconstruct,
        "generate": generate,
    }


def _captured_variables(functions):
    """The tf.Variables the signatures read, each once.

    Tracking the Keras networks alone saves their variables in a form that TF2's
    `tf.saved_model.load` restores but the session-based loader of TF Serving and
    `saved_model_cli run` does not ("Could not find variable ..."); tracking the captured
    tf.Variables themselves (as `keras.export.ExportArchive` does) serves both.
    """
    variables, seen = [], set()
    for function in functions:
        for variable in function.get_concrete_function().variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


# model kind -> function(module, model) that tracks what the signatures need and returns them
SIGNATURES = {
    "dcgan": gan_signatures,
    "wgan_gp": gan_signatures,
    "cgan": cgan_signatures,
    "pix2pix": pix2pix_signatures,
    "cyclegan": cyclegan_signatures,
    "vae": vae_signatures,
}


def check_exportable(model):
    """The model's kind; refuses models that have no serving signatures."""
    kind = getattr(model, "kind", None)
    if kind not in SIGNATURES:
        raise TfgenUsageError(
            f"cannot export a {type(model).__name__} (kind {kind!r}): export supports the kinds "
            f"{', '.join(SIGNATURES)}; pass a model trained by tfgen"
        )
    return kind


def saved_model(model, path, version=None, overwrite=False):
    """Exports `model` as `path/<version>/` (TF Serving layout) and returns that folder.

    The export is written to a hidden temporary folder beside the version folder and renamed
    into place only when complete, so a crash never leaves a partial version that TF Serving
    would try to load.

    Args:
        model: a tfgen model (one of the kinds in `SIGNATURES`).
        path: str. The model's base folder (TF Serving's `base_path`).
        version: int or None. The version number; the next free one when None.
        overwrite: bool. Replace an existing version folder (refused otherwise).
    """
    kind = check_exportable(model)
    path = pathlib.Path(path)
    version = next_version(path) if version is None else int(version)
    if version < 1:
        raise TfgenUsageError(f"version must be a positive integer, got {version}")
    target = path / str(version)
    if target.exists() and not overwrite:
        raise TfgenUsageError(
            f"{target} already exists; pass --overwrite to replace it or choose another --version"
        )
    module = tf.Module()
    signatures = SIGNATURES[kind](module, model)
    module.captured_variables = _captured_variables(signatures.values())
    with tempfile.TemporaryDirectory() as keras_dir:
        keras_file = pathlib.Path(keras_dir) / KERAS_ASSET
        model.save(keras_file)
        module.keras_model_file = tf.saved_model.Asset(str(keras_file))
        # A crash mid-export leaves only a hidden temporary folder, never a version folder
        # that TF Serving would pick up.
        with io.atomic_path(target, is_dir=True) as tmp:
            tf.saved_model.save(module, str(tmp), signatures=signatures)
    return target


# --------------------------------------------------------------------------- documentation
def _spec_text(spec):
    shape = "[" + ", ".join("-1" if d is None else str(d) for d in spec.shape) + "]"
    return f"`{spec.name}` {spec.dtype.name} {shape}"


def describe_signatures(export_dir):
    """{signature name: {"inputs": {name: TensorSpec}, "outputs": {name: TensorSpec}}}.

    Read from the SavedModel itself, so documentation made from it cannot drift from the code.
    """
    loaded = tf.saved_model.load(str(export_dir))
    described = {}
    for name, function in sorted(loaded.signatures.items()):
        inputs = function.structured_input_signature[1]
        outputs = function.structured_outputs
        described[name] = {
            "inputs": {key: tf.TensorSpec(s.shape, s.dtype, key) for key, s in inputs.items()},
            "outputs": {key: tf.TensorSpec(t.shape, t.dtype, key) for key, t in outputs.items()},
        }
    return described


def signature_table(export_dir):
    """A markdown table of an export's signatures: name, inputs, outputs (dtype, shape)."""
    rows = ["| signature | inputs | outputs |", "|---|---|---|"]
    for name, io_specs in describe_signatures(export_dir).items():
        inputs = "<br>".join(_spec_text(s) for _, s in sorted(io_specs["inputs"].items()))
        outputs = "<br>".join(_spec_text(s) for _, s in sorted(io_specs["outputs"].items()))
        rows.append(f"| `{name}` | {inputs} | {outputs} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------- TF Serving
def _has_version(folder):
    return any(
        p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").exists()
        for p in folder.iterdir()
    )


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_models_config(root, base_path=None, out=None):
    """Writes a TF Serving `models.config` serving every exported model under `root`.

    A model is a sub-folder of `root` holding at least one `<version>/saved_model.pb` (the
    layout `saved_model` writes, and the zoo's `savedmodels/<name>/`); TF Serving serves each
    model's latest version under the folder's name.

    Args:
        root: str. The folder of model base folders.
        base_path: str or None. Where `root` is seen by the server, e.g. `/models` when `root`
            is mounted there in the `tensorflow/serving` container. Defaults to `root`'s
            absolute path (a `tensorflow_model_server` on this machine).
        out: str or None. The file to write. Defaults to `root/models.config`.

    Returns:
        (path of the written file, list of model names).
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise TfgenUsageError(f"{root} is not a folder; pass the folder that holds exported models")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and _has_version(p))
    if not names:
        raise TfgenUsageError(
            f"{root} holds no exported models (sub-folders with <version>/saved_model.pb); "
            "export some with `tfgen export MODEL --out ROOT/NAME` first"
        )
    prefix = str(base_path).rstrip("/") if base_path else str(root.resolve())
    lines = ["model_config_list {"]
    for name in names:
        lines += [
            "  config {",
            f"    name: {_quote(name)}",
            f"    base_path: {_quote(prefix + '/' + name)}",
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    out = pathlib.Path(out) if out else root / "models.config"
    with io.atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out, names
