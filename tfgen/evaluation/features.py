"""Pluggable feature extractors for sample-quality metrics: zoo domain classifiers or InceptionV3.

`get_extractor("mnist")` picks the extractor for a dataset; every extractor takes uint8 images
or floats in [-1, 1] and returns batched features and class probabilities as numpy arrays.
"""

import functools
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfgen.data import to_unit_range
from tfgen.errors import TfgenError, TfgenUsageError
from tfgen.evaluation.classifier import FEATURES_LAYER
from tfgen.registry import zoo_path

CLASSIFIER_EXTRACTORS = ("classifier_mnist", "classifier_fashion_mnist", "classifier_emoji")
EXTRACTORS = (*CLASSIFIER_EXTRACTORS, "inception")
# Datasets with a domain classifier in the zoo; every other dataset falls back to Inception.
DATASET_EXTRACTORS = {
    "mnist": "classifier_mnist",
    "fashion_mnist": "classifier_fashion_mnist",
    # One classifier of both vendors' drawings: classes are vendor x category.
    "emoji_google": "classifier_emoji",
    "emoji_twitter": "classifier_emoji",
}
INCEPTION_SIZE = 299
# Generators ending in tanh stay inside [-1, 1]; allow float32 round-off past the ends.
RANGE_TOLERANCE = 1e-3


class FeatureExtractor:
    """Batched features and class probabilities from a Keras model.

    Args:
        model: keras.Model. Maps float32 images in [-1, 1] to `(features, outputs)`.
        name: str. Name used in messages (e.g. `"classifier_mnist"`).
        image_shape: tuple or None. The `(height, width, channels)` the model needs; None
            accepts any size with 1 or 3 channels (use with `resize_to`).
        outputs_are_logits: bool. Apply softmax to the second output to get probabilities.
        batch_size: int. Images per forward pass. Defaults to 256.
        resize_to: int or None. Resize images to this square side and tile grey to RGB before
            the model (Inception); None feeds images as they are.
    """

    def __init__(
        self,
        model,
        name,
        image_shape=None,
        outputs_are_logits=True,
        batch_size=256,
        resize_to=None,
    ):
        self.model = model
        self.name = name
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.outputs_are_logits = outputs_are_logits
        self.batch_size = int(batch_size)
        self.resize_to = resize_to
        feature_output, class_output = model.outputs
        self.feature_dim = int(feature_output.shape[-1])
        self.num_classes = int(class_output.shape[-1])
        self._forward = tf.function(self._forward_batch, reduce_retracing=True)

    @classmethod
    def from_classifier(cls, classifier, name="classifier", batch_size=256):
        """Wraps a classifier from `build_classifier` (a `features` layer, logits output)."""
        try:
            features = classifier.get_layer(FEATURES_LAYER).output
        except ValueError as e:
            raise TfgenUsageError(
                f"classifier {classifier.name!r} has no layer named {FEATURES_LAYER!r}; "
                "build it with tfgen.evaluation.classifier.build_classifier"
            ) from e
        model = keras.Model(classifier.inputs, [features, classifier.outputs[0]])
        return cls(model, name, tuple(classifier.inputs[0].shape[1:]), True, batch_size)

    def __repr__(self):
        return (
            f"FeatureExtractor({self.name!r}, image_shape={self.image_shape}, "
            f"feature_dim={self.feature_dim}, num_classes={self.num_classes})"
        )

    def _forward_batch(self, images):
        if self.resize_to is not None:
            images = tf.image.resize(images, (self.resize_to, self.resize_to), method="bilinear")
            if images.shape[-1] == 1:
                images = tf.image.grayscale_to_rgb(images)
        features, outputs = self.model(images, training=False)
        if self.outputs_are_logits:
            outputs = tf.nn.softmax(outputs, axis=-1)
        return features, outputs

    def check_images(self, images):
        """Validates images and returns them as a numpy array `[N, H, W, C]` (dtype kept).

        uint8 images are taken as [0, 255]; float images must lie in [-1, 1].
        """
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]  # [N, H, W] grey
        if images.ndim != 4 or len(images) == 0:
            raise TfgenUsageError(
                f"{self.name} needs a non-empty batch of images [N, H, W, C], got shape "
                f"{images.shape}"
            )
        shape = images.shape[1:]
        if self.image_shape is not None and shape != self.image_shape:
            raise TfgenUsageError(
                f"extractor {self.name} expects images of shape {self.image_shape}, got {shape}; "
                "use the extractor of the images' dataset (extractor='inception' takes any size)"
            )
        if self.image_shape is None and shape[-1] not in (1, 3):
            raise TfgenUsageError(
                f"extractor {self.name} takes 1 or 3 channels, got images of shape {shape}"
            )
        if images.dtype == np.uint8:
            return images
        if not np.issubdtype(images.dtype, np.floating):
            raise TfgenUsageError(
                f"images must be uint8 in [0, 255] or floats in [-1, 1], got dtype {images.dtype}"
            )
        lo, hi = float(images.min()), float(images.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise TfgenUsageError("images hold NaN or infinite values; check the generator output")
        if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise TfgenUsageError(
                f"float images must be in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                "scale [0, 255] images with x / 127.5 - 1 (or pass them as uint8), and [0, 1] "
                "images with 2 * x - 1"
            )
        return images

    def features_and_probabilities(self, images):
        """Returns `(features [N, feature_dim], probabilities [N, num_classes])` as float32."""
        images = self.check_images(images)
        features, probs = [], []
        for start in range(0, len(images), self.batch_size):
            # Converting per batch keeps float copies of a large uint8 set out of memory.
            batch = tf.clip_by_value(to_unit_range(images[start : start + self.batch_size]), -1, 1)
            f, p = self._forward(batch)
            features.append(f.numpy())
            probs.append(p.numpy())
        return np.concatenate(features), np.concatenate(probs)

    def features(self, images):
        """Returns features `[N, feature_dim]` (float32) of uint8 or [-1, 1] images."""
        return self.features_and_probabilities(images)[0]

    def probabilities(self, images):
        """Returns class probabilities `[N, num_classes]` (float32) of the images."""
        return self.features_and_probabilities(images)[1]


def extractor_name(name_or_dataset):
    """The extractor name for an extractor name, a dataset name or a dataset folder.

    `mnist` -> `classifier_mnist`, `fashion_mnist` -> `classifier_fashion_mnist`,
    `emoji_google`/`emoji_twitter` -> `classifier_emoji`, any other dataset -> `inception`.
    """
    key = str(name_or_dataset)
    if key in EXTRACTORS:
        return key
    if key.startswith("classifier_"):
        raise TfgenUsageError(
            f"unknown extractor {key!r}; choose one of {', '.join(EXTRACTORS)}, "
            "or a path to a .keras classifier"
        )
    # A dataset folder such as /data/mnist, or a TFDS name with a version (mnist:3.0.1).
    dataset = pathlib.Path(key).name.split(":")[0].lower()
    return DATASET_EXTRACTORS.get(dataset, "inception")


def get_extractor(name_or_dataset, weights="imagenet", batch_size=256):
    """Returns the feature extractor for an extractor name, dataset or classifier file.

    Loaded models are cached once per process.

    Args:
        name_or_dataset: str, path or FeatureExtractor. `"classifier_mnist"`,
            `"classifier_fashion_mnist"`, `"inception"`, a dataset name or folder (mapped by
            `extractor_name`), a `.keras` file of a classifier with a `features` layer, or an
            extractor (returned as is).
        weights: str or None. InceptionV3 weights: `"imagenet"` (downloaded once by Keras) or
            None (random weights, only to test the plumbing).
        batch_size: int. Images per forward pass. Defaults to 256.

    Returns:
        A `FeatureExtractor`.
    """
    if isinstance(name_or_dataset, FeatureExtractor):
        return name_or_dataset
    if str(name_or_dataset).endswith(".keras"):
        path = pathlib.Path(name_or_dataset).resolve()
        return _classifier_extractor(str(path), path.stem, batch_size)
    name = extractor_name(name_or_dataset)
    if name == "inception":
        return _inception_extractor(weights, batch_size)
    path = zoo_path(name) / f"{name}.keras"  # every entry's file is <name>.keras
    return _classifier_extractor(str(path), name, batch_size)


@functools.cache
def _classifier_extractor(path, name, batch_size):
    if not pathlib.Path(path).is_file():
        raise TfgenError(
            f"classifier {name!r} not found at {path}; train it with "
            f"`tfgen rebuild {name}` or set TFGEN_ZOO_DIR to a zoo that holds it"
        )
    classifier = keras.saving.load_model(path, compile=False)
    return FeatureExtractor.from_classifier(classifier, name, batch_size)


@functools.cache
def _inception_extractor(weights, batch_size):
    if weights not in ("imagenet", None):
        raise TfgenUsageError(f"Inception weights must be 'imagenet' or None, got {weights!r}")
    try:
        inception = keras.applications.InceptionV3(include_top=True, weights=weights)
    except Exception as e:  # Keras raises a bare Exception when the download fails
        raise TfgenError(
            f"could not download the ImageNet weights of InceptionV3 ({e}); this machine may "
            "be offline. Put inception_v3_weights_tf_dim_ordering_tf_kernels.h5 in "
            "~/.keras/models/, or use a domain classifier: extractor='classifier_mnist' or "
            "'classifier_fashion_mnist'"
        ) from e
    # The pooled 2048-d layer is what include_top=False, pooling="avg" gives; the top adds IS.
    model = keras.Model(
        inception.inputs, [inception.get_layer("avg_pool").output, inception.outputs[0]]
    )
    return FeatureExtractor(
        model,
        "inception",
        None,
        outputs_are_logits=False,
        batch_size=batch_size,
        resize_to=INCEPTION_SIZE,
    )
