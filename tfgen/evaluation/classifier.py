"""Small domain classifiers whose penultimate layer gives FID/KID/precision-recall features.

The zoo entries `classifier_mnist` and `classifier_fashion_mnist` are built and trained here;
`tfgen rebuild classifier_<dataset>` reproduces them from their recipes.
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen.data import to_unit_range
from tfgen.errors import TfgenUsageError

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"
# Augmentation per dataset. Digits must not be flipped (2 vs 5 mirror-wise), clothes may be;
# MNIST has only 8k training images here, so it gets rotations and zoom on top of shifts.
AUGMENTATIONS = {
    "mnist": {"translate": 0.1, "rotate_degrees": 10.0, "zoom": 0.1, "flip": False},
    "fashion_mnist": {"translate": 0.05, "rotate_degrees": 0.0, "zoom": 0.0, "flip": True},
    "none": {"translate": 0.0, "rotate_degrees": 0.0, "zoom": 0.0, "flip": False},
    # Emoji sit on white (+1), so shifted-in borders are filled with white.
    "emoji": {"translate": 0.06, "rotate_degrees": 0.0, "zoom": 0.1, "flip": True, "fill": 1.0},
}


def _conv_block(x, filters, name):
    # Bias is redundant before batch norm.
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_classifier(
    image_shape=(28, 28, 1),
    num_classes=10,
    width=16,
    feature_dim=128,
    dropout=0.3,
    pooling="avg",
    name="classifier",
):
    """Builds a small VGG-style CNN that maps [-1, 1] images to class logits.

    The layer named `features` (a `feature_dim`-wide ReLU dense layer) is the embedding
    used for FID, KID and precision/recall; the layer named `logits` is the output.

    Args:
        image_shape: tuple. `(height, width, channels)` of the float32 input in [-1, 1].
            Defaults to `(28, 28, 1)`.
        num_classes: int. Number of classes. Defaults to 10.
        width: int. Filters of the first stage; stages use `width`, `2 * width`, `4 * width`.
            Defaults to 16 (fast on CPU).
        feature_dim: int. Width of the `features` layer. Defaults to 128.
        dropout: float. Dropout rate before the `features` and `logits` layers. Defaults to 0.3.
        pooling: str. `"avg"` (global average, fewest weights) or `"flatten"` (keeps where
            things are in the 7 x 7 map, which clothing classes need). Defaults to `"avg"`.
        name: str. Model name. Defaults to `"classifier"`.

    Returns:
        A functional `keras.Model` (serializable with no custom objects).
    """
    if len(image_shape) != 3 or min(image_shape[:2]) < 8:
        raise TfgenUsageError(
            f"image_shape must be (height, width, channels) with sides >= 8, got {image_shape!r}"
        )
    if pooling not in ("avg", "flatten"):
        raise TfgenUsageError(f"pooling must be 'avg' or 'flatten', got {pooling!r}")
    if num_classes < 2:
        raise TfgenUsageError(f"num_classes must be at least 2, got {num_classes}")
    inputs = keras.Input(shape=tuple(image_shape), name="images")
    x = _conv_block(inputs, width, "block1a")
    x = _conv_block(x, width, "block1b")
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = _conv_block(x, 2 * width, "block2a")
    x = _conv_block(x, 2 * width, "block2b")
    x = keras.layers.MaxPooling2D(name="block2_pool")(x)
    x = _conv_block(x, 4 * width, "block3a")
    x = _conv_block(x, 4 * width, "block3b")
    if pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = keras.layers.Flatten(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="pool_dropout")(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = keras.layers.Dropout(dropout, name="features_dropout")(features)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name=name)


def build_augmenter(translate=0.0, rotate_degrees=0.0, zoom=0.0, flip=False, seed=0, fill=-1.0):
    """Random shifts, rotations, zooms and flips for training batches in [-1, 1].

    Args:
        translate: float. Largest shift as a fraction of the image side.
        rotate_degrees: float. Largest rotation either way, in degrees.
        zoom: float. Largest zoom in or out, as a fraction.
        flip: bool. Flip left-right at random.
        seed: int. Seed of the random layers.
        fill: float. The value of shifted-in borders: the background, -1 (black) by default.

    Returns:
        A `keras.Sequential` to apply with `training=True`.
    """
    # Constant fill with the background keeps shifted-in borders blank.
    fill = {"fill_mode": "constant", "fill_value": float(fill)}
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotate_degrees:
        layers.append(keras.layers.RandomRotation(rotate_degrees / 360.0, seed=seed + 1, **fill))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, seed=seed + 2, **fill))
    if translate:
        layers.append(keras.layers.RandomTranslation(translate, translate, seed=seed + 3, **fill))
    return keras.Sequential(layers, name="augmenter")


def _image_dataset(images, labels, batch_size, shuffle, seed, augmenter=None):
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda x, y: (to_unit_range(x), y), num_parallel_calls=tf.data.AUTOTUNE
    )
    if augmenter is not None and augmenter.layers:
        ds = ds.map(
            lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def train_classifier(
    train_images,
    train_labels,
    epochs=20,
    batch_size=128,
    learning_rate=3e-3,
    weight_decay=1e-4,
    label_smoothing=0.0,
    augmentation="none",
    seed=0,
    verbose=2,
    **build_kwargs,
):
    """Trains a classifier from `build_classifier` on uint8 images.

    AdamW with a one-epoch warm-up then cosine decay to zero, so the last epochs settle and
    no early stopping (which would need a validation split) is required.

    Args:
        train_images: uint8 array `[N, H, W, C]`.
        train_labels: int array `[N]` with values in `[0, num_classes)`.
        epochs: int. Passes over the training set. Defaults to 20.
        batch_size: int. Defaults to 128.
        learning_rate: float. Peak learning rate. Defaults to 3e-3.
        weight_decay: float. AdamW decoupled weight decay. Defaults to 1e-4.
        label_smoothing: float. Cross-entropy label smoothing. Defaults to 0.
        augmentation: str or dict. A key of `AUGMENTATIONS` or `build_augmenter` kwargs.
        seed: int. Seeds weights, shuffling and augmentation.
        verbose: int. Keras `fit` verbosity.
        **build_kwargs: passed to `build_classifier`.

    Returns:
        `(model, history)`: the trained `keras.Model` and the `fit` history dict.
    """
    train_images = np.asarray(train_images)
    train_labels = np.asarray(train_labels, np.int32)
    if train_images.dtype != np.uint8 or train_images.ndim != 4:
        raise TfgenUsageError(
            "train_images must be uint8 [N, H, W, C], got "
            f"{train_images.dtype} {train_images.shape}"
        )
    if len(train_labels) != len(train_images):
        raise TfgenUsageError(
            f"{len(train_labels)} labels for {len(train_images)} images; pass one label per image"
        )
    if isinstance(augmentation, str):
        if augmentation not in AUGMENTATIONS:
            raise TfgenUsageError(
                f"unknown augmentation {augmentation!r}; choose one of {', '.join(AUGMENTATIONS)}"
            )
        augmentation = AUGMENTATIONS[augmentation]
    keras.utils.set_random_seed(seed)
    build_kwargs.setdefault("num_classes", int(train_labels.max()) + 1)
    model = build_classifier(image_shape=train_images.shape[1:], **build_kwargs)
    augmenter = build_augmenter(seed=seed, **augmentation)
    ds = _image_dataset(train_images, train_labels, batch_size, True, seed, augmenter)
    steps = epochs * int(np.ceil(len(train_images) / batch_size))
    warmup = min(steps // 2, int(np.ceil(len(train_images) / batch_size)))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps - warmup, warmup_target=learning_rate, warmup_steps=warmup
    )
    num_classes = build_kwargs["num_classes"]
    # One-hot labels because sparse cross-entropy has no label smoothing.
    ds = ds.map(lambda x, y: (x, tf.one_hot(y, num_classes)))
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=label_smoothing
        ),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(ds, epochs=epochs, verbose=verbose, shuffle=False)  # ds shuffles
    return model, history.history


def classifier_accuracy(model, images, labels, batch_size=512):
    """Top-1 accuracy of a classifier on uint8 images and int labels."""
    ds = _image_dataset(np.asarray(images), np.asarray(labels, np.int32), batch_size, False, 0)
    logits = model.predict(ds.map(lambda x, y: x), verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def save_classifier(model, path):
    """Saves a classifier to a `.keras` file without its optimizer state (inference only)."""
    # `.keras` files carry the optimizer of a compiled model (Adam doubles the size), and
    # `clone_model` recompiles; a model rebuilt from its config is uncompiled.
    inference = keras.Model.from_config(model.get_config())
    inference.set_weights(model.get_weights())
    inference.save(path)
    return path
