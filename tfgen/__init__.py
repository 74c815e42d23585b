"""tfgen: a TensorFlow/Keras model zoo of image generative models.

The public API is re-exported here lazily, so `tfgen --help` and usage errors answer without
importing TensorFlow.
"""

import importlib

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
