"""Loading models from a zoo name, a `.keras` file or a SavedModel exported by tfgen.

`.keras` files are loaded with Keras' `safe_mode` (no arbitrary code from Lambda layers)
unless the caller asks for `safe_mode=False`.
"""

import pathlib
import zipfile

import keras

from tfgen import registry
from tfgen.errors import TfgenUsageError

KERAS_ASSET = "tfgen_model.keras"  # inside a tfgen SavedModel's assets/ folder


def _latest_version(folder):
    versions = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    return folder / str(versions[-1]) if versions else None


def resolve(source):
    """Maps a zoo name, `.keras` file or SavedModel folder to the `.keras` file to load."""
    path = pathlib.Path(source)
    if path.suffix == ".keras":
        if not path.is_file():
            raise TfgenUsageError(f"{path} does not exist; pass an existing .keras file")
        return path
    if not path.exists():
        if "/" in str(source) or "\\" in str(source):
            raise TfgenUsageError(
                f"{source} does not exist; pass a zoo name, a .keras file or a SavedModel folder"
            )
        entry = registry.zoo_path(str(source))
        if not entry.is_dir():
            names = ", ".join(registry.zoo_entries()) or "none installed"
            raise TfgenUsageError(
                f"unknown model {source!r}: not a file and not a zoo entry ({names})"
            )
        path = entry
    if path.is_dir():
        keras_files = sorted(path.glob("*.keras"))
        if keras_files:
            return keras_files[0]
        if not (path / "saved_model.pb").exists():
            latest = _latest_version(path)
            if latest is not None:
                path = latest
        asset = path / "assets" / KERAS_ASSET
        if asset.exists():
            return asset
        if (path / "saved_model.pb").exists():
            raise TfgenUsageError(
                f"{path} is a SavedModel that tfgen did not export (no assets/{KERAS_ASSET}), so its "
                "Keras layers cannot be rebuilt; export it with `tfgen export` or pass a .keras file"
            )
    raise TfgenUsageError(f"{source} holds no .keras file or tfgen SavedModel")


def load_model(source, safe_mode=True, compile=True):
    """Loads a tfgen model from a zoo name, a `.keras` file or a tfgen SavedModel folder."""
    import tfgen.models  # noqa: F401  (registers the model classes with Keras)

    path = resolve(source)
    if not zipfile.is_zipfile(path):
        raise TfgenUsageError(
            f"{path} is not a .keras file (not a zip archive: empty, truncated or another "
            "format); save the model again with model.save or pass another file"
        )
    try:
        return keras.saving.load_model(path, safe_mode=safe_mode, compile=compile)
    except ValueError as e:
        if "safe_mode" in str(e) or "Lambda" in str(e):
            raise TfgenUsageError(
                f"{path} contains code (a Lambda layer) that safe mode refuses to run; "
                "pass --unsafe only if you trust the file"
            ) from e
        raise TfgenUsageError(f"cannot load {path}: {e}") from e
    except (OSError, KeyError) as e:
        raise TfgenUsageError(f"cannot load {path}: it is not a valid .keras file ({e})") from e
