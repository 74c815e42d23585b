"""Export: SavedModels for TF Serving (`serving`) and TFLite/LiteRT files (`tflite`).

`saved_model(model, path)` writes `path/<version>/` with named signatures per model kind;
`write_models_config` serves a folder of them; `tflite.convert` writes a `.tflite` file.
"""

# The SavedModel code lives in `serving`, not `saved_model.py`: a submodule named like the
# `saved_model` function would make `import tfgen.export.saved_model as m` return the function.
from tfgen.export import serving, tflite
from tfgen.export.serving import (
    SIGNATURES,
    cgan_signatures,
    check_exportable,
    cyclegan_signatures,
    describe_signatures,
    gan_signatures,
    next_version,
    pix2pix_signatures,
    saved_model,
    signature_table,
    vae_signatures,
    write_models_config,
)

__all__ = [
    "SIGNATURES",
    "cgan_signatures",
    "check_exportable",
    "cyclegan_signatures",
    "describe_signatures",
    "gan_signatures",
    "next_version",
    "pix2pix_signatures",
    "saved_model",
    "serving",
    "signature_table",
    "tflite",
    "vae_signatures",
    "write_models_config",
]
