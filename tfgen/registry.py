"""Name -> model class registry and the pretrained zoo's location.

`register` also registers a class as Keras-serializable under the package name `tfgen`, so
`.keras` files find their classes by the name `tfgen>ClassName`.
"""

import os
import pathlib
import re

from tfgen.errors import TfgenUsageError

MODEL_KINDS = {}  # CLI kind ("dcgan") -> model class
_ZOO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def serializable(cls):
    """Registers a layer, loss or network class with Keras under the package name `tfgen`."""
    import keras  # here, so the zoo helpers below load without TensorFlow (`tfgen list`)

    return keras.saving.register_keras_serializable(package="tfgen")(cls)


def register_model(kind):
    """Class decorator: makes a model serializable and trainable as `tfgen train <kind>`."""

    def wrap(cls):
        cls = serializable(cls)
        cls.kind = kind
        MODEL_KINDS[kind] = cls
        return cls

    return wrap


def get_model_class(kind):
    import tfgen.models  # noqa: F401  (registers the model classes)

    if kind not in MODEL_KINDS:
        raise TfgenUsageError(
            f"unknown model kind {kind!r}; choose one of {', '.join(sorted(MODEL_KINDS))}"
        )
    return MODEL_KINDS[kind]


def zoo_dir():
    """The pretrained zoo: `$TFGEN_ZOO_DIR`, else `savedmodels/` beside the package."""
    value = os.environ.get("TFGEN_ZOO_DIR")
    return (
        pathlib.Path(value)
        if value
        else pathlib.Path(__file__).resolve().parent.parent / "savedmodels"
    )


def zoo_path(name):
    """The folder of zoo entry `name`; refuses names that would leave the zoo folder."""
    if not _ZOO_NAME.match(name) or name in (".", ".."):
        raise TfgenUsageError(f"{name!r} is not a valid zoo name (letters, digits, _ . - only)")
    root = zoo_dir().resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise TfgenUsageError(f"zoo name {name!r} escapes the zoo folder {root}")
    return path


def zoo_entries():
    root = zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "card.json").exists())
