"""Export: SavedModels in TF Serving's folder layout (`path/<version>/`).

Each export carries the model's `.keras` file as an asset (`assets/tfgen_model.keras`), so
`tfgen.saving.load_model` can rebuild the Keras model with addressable layers from it.
"""

import pathlib
import tempfile

import tensorflow as tf

from tfgen import io
from tfgen.errors import TfgenUsageError
from tfgen.saving import KERAS_ASSET


def next_version(path):
    path = pathlib.Path(path)
    versions = [int(p.name) for p in path.iterdir() if p.name.isdigit()] if path.is_dir() else []
    return max(versions, default=0) + 1


def _uint8(images):
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def _image_outputs(images):
    images = tf.cast(images, tf.float32)
    return {"images": images, "images_uint8": _uint8(images)}


def gan_signatures(module, model):
    """`serving_default`: z -> images; `generate`: (batch_size, seed) -> images."""
    module.generator = model.generator
    latent_dim = model.latent_dim

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
    def serve(z):
        return _image_outputs(module.generator(z, training=False))

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.int32, name="batch_size"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
    )
    def generate(batch_size, seed):
        tf.debugging.assert_positive(batch_size, message="batch_size must be >= 1")
        z = tf.random.stateless_normal(
            tf.stack([batch_size, latent_dim]), seed=tf.stack([seed, tf.constant(1, tf.int64)])
        )
        return _image_outputs(module.generator(z, training=False))

    return {"serving_default": serve, "generate": generate}


# model kind -> function(module, model) that tracks what the signatures need and returns them
SIGNATURES = {"dcgan": gan_signatures}


def saved_model(model, path, version=None, overwrite=False):
    """Exports `model` as `path/<version>/` (TF Serving layout) and returns that folder.

    Args:
        model: a tfgen model.
        path: str. The model's base folder (TF Serving's `base_path`).
        version: int or None. The version number; the next free one when None.
        overwrite: bool. Replace an existing version folder (refused otherwise).
    """
    kind = getattr(model, "kind", None)
    if kind not in SIGNATURES:
        raise TfgenUsageError(
            f"cannot export a {type(model).__name__}: SavedModel export supports {', '.join(SIGNATURES)}"
        )
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
    with tempfile.TemporaryDirectory() as keras_dir:
        keras_file = pathlib.Path(keras_dir) / KERAS_ASSET
        model.save(keras_file)
        module.keras_model_file = tf.saved_model.Asset(str(keras_file))
        # A crash mid-export leaves only a hidden temporary folder, never a version folder
        # that TF Serving would pick up.
        with io.atomic_path(target, is_dir=True) as tmp:
            tf.saved_model.save(module, str(tmp), signatures=signatures)
    return target
