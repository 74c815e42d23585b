"""tfgen: a TensorFlow/Keras model zoo of image generative models.

Importing tfgen registers every serializable class with Keras, so `keras.saving.load_model`
opens tfgen's `.keras` files; the rest of the public API is re-exported on first use.
"""

import importlib
import sys

__version__ = "0.1.0"

_SUBMODULES = (
    "augment",
    "data",
    "distribute",
    "export",
    "io",
    "latent",
    "losses",
    "models",
    "networks",
    "precision",
    "registry",
    "saving",
    "training",
    "transfer",
    "zoo",
)
_EXPORTS = {
    "ConditionalGAN": "tfgen.models",
    "CycleGAN": "tfgen.models",
    "DCGAN": "tfgen.models",
    "GAN": "tfgen.models",
    "Pix2Pix": "tfgen.models",
    "TfgenError": "tfgen.errors",
    "TfgenUsageError": "tfgen.errors",
    "VAE": "tfgen.models",
    "WGANGP": "tfgen.models",
    "load_model": "tfgen.saving",
}

# Modules that moved into a package keep their old names (`tfgen.callbacks.FIDCheckpoint`).
_MOVED = {
    "callbacks": "tfgen.training.callbacks",
    "monitor": "tfgen.training.monitor",
    "reliability": "tfgen.training.checkpoint",
    "data_paired": "tfgen.data.paired",
    "data_unpaired": "tfgen.data.unpaired",
    "tflite": "tfgen.export.tflite",
}

__all__ = sorted([*_SUBMODULES, *_EXPORTS])


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tfgen.{name}")
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tfgen' has no attribute {name!r}")


# Modules that register serializable classes (models, layers, optimizers) with Keras.
# (The models import the networks and their layers.)
_SERIALIZABLE = ("tfgen.augment", "tfgen.optimizers", "tfgen.models")


def _register():
    for name in _SERIALIZABLE:
        importlib.import_module(name)


# Eager, as keras-hub does: Keras finds a saved class by its registered name (`tfgen>DCGAN`)
# only once the module that registers it ran, and imports modules by itself only for Keras'
# own packages; so `import tfgen` must register everything for `keras.saving.load_model` to
# work. The `tfgen` console script (tfgen_launcher.py, outside this package) sets a
# process-local flag first, so `tfgen --help` and usage errors answer without TensorFlow; its
# commands import what they use, and `tfgen.saving.load_model` registers the classes.
if not getattr(sys.modules.get("tfgen_launcher"), "LAZY", False):
    _register()
