"""Layers of a tfgen model by path: loading a model to fine-tune, listing, freezing and
unfreezing its layers.

Layers are addressed by path: a GAN's layers are `generator/block0_conv`,
`discriminator/block1_norm`, ...; a bare name (`block1_norm`) works where it is unique.
`trainable_summary(model)` prints every path and its state. A GAN's EMA generator is no
layer of these paths: it is an average of the generator, not trained, and has its name.

Freezing before `compile` needs nothing more. Freezing after `compile` must rebuild the
optimizers (their slots are built for the trainable variables at compile time) and the traced
train step (it captured the old variable list and BatchNormalization's mode): `freeze` and
`unfreeze` do that through `recompile(model)` when the model is compiled, keeping the
optimizers' configuration, iteration count and slots.
"""

import re

import keras
import numpy as np

from tfgen.errors import TfgenUsageError
from tfgen.transfer.recompile import recompile

ALL = "all"
# Attributes under which models keep averaged copies of a network (a GAN's EMA generator, a
# clone with the generator's name): they are not trained, so they are no layers to freeze,
# and walking them would give every generator path a second layer (the copy's).
AVERAGES = ("ema_generator",)


# --------------------------------------------------------------------------- loading
def load_for_finetuning(source, safe_mode=True, unfreeze_all=True):
    """Loads a tfgen model to fine-tune, with addressable layers and no optimizer state.

    Args:
        source: str or path. A zoo name (`"dcgan_mnist"`), a `.keras` file, or a SavedModel
            exported by tfgen (`tfgen export` / `tfgen.export.saved_model`: it carries the
            model's `.keras` file as an asset, so the Keras layers come back).
        safe_mode: bool. Refuse `.keras` files with Lambda layers. Defaults to True.
        unfreeze_all: bool. Make every layer trainable: a model saved in the middle of a
            recipe comes back with that recipe's frozen layers, and the recipe applied next
            should be the whole story. Defaults to True.

    Returns:
        The model, not compiled: freeze what you want, then `compile` it.
    """
    from tfgen import saving

    try:
        model = saving.load_model(source, safe_mode=safe_mode, compile=False)
    except TfgenUsageError as e:
        raise TfgenUsageError(f"cannot fine-tune {source}: {e}") from e
    if unfreeze_all:
        for layer in _flatten(model):
            layer.trainable = True
    return model


# --------------------------------------------------------------------------- layer paths
def _is_container(layer):
    return isinstance(layer, keras.Model)


def _sub_layers(model):
    """`model.layers` without input layers and averaged copies (see `AVERAGES`)."""
    averages = [getattr(model, name, None) for name in AVERAGES]
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and not any(layer is average for average in averages)
    ]


def _walk(model, prefix=""):
    """Yields `(path, layer, ancestors)` for every leaf layer, in the model's layer order."""
    for layer in _sub_layers(model):
        path = f"{prefix}{layer.name}"
        if _is_container(layer):
            for sub_path, sub, ancestors in _walk(layer, path + "/"):
                yield sub_path, sub, (layer, *ancestors)
        else:
            yield path, layer, ()


def _containers(model, prefix=""):
    """{path: sub-model} of the nested models (the generator, the discriminator, ...)."""
    found = {}
    for layer in _sub_layers(model):
        if _is_container(layer):
            path = f"{prefix}{layer.name}"
            found[path] = layer
            found.update(_containers(layer, path + "/"))
    return found


def _flatten(model):
    return [layer for _, layer, _ in _walk(model)]


def layer_paths(model):
    """The paths of the model's leaf layers in order, e.g. `["generator/project", ...]`."""
    return [path for path, _, _ in _walk(model)]


def weights_by_path(model):
    """{`"discriminator/block0_conv/kernel"`: variable} for every weight of every leaf layer."""
    return {f"{path}/{w.name}": w for path, layer, _ in _walk(model) for w in layer.weights}


def is_trainable(layer, ancestors):
    return layer.trainable and all(a.trainable for a in ancestors)


def _select(model, layers):
    """Resolves a layer selection to an ordered list of `(path, layer, ancestors)`."""
    entries = list(_walk(model))
    if not entries:
        raise TfgenUsageError(f"{model.name} has no layers to freeze or unfreeze")
    if isinstance(layers, str) and layers == ALL:
        return entries
    if isinstance(layers, slice):
        return entries[layers]
    if isinstance(layers, (str, re.Pattern)):
        try:
            pattern = re.compile(layers) if isinstance(layers, str) else layers
        except re.error as e:
            raise TfgenUsageError(
                f"{layers!r} is not a valid regular expression ({e}); pass a list of layer "
                "names to select layers by name"
            ) from e
        chosen = [
            e
            for e in entries
            if pattern.fullmatch(e[0]) or pattern.fullmatch(e[0].rsplit("/", 1)[-1])
        ]
        if not chosen:
            raise TfgenUsageError(
                f"the regular expression {pattern.pattern!r} matches no layer of {model.name} "
                f"(it must match a whole path such as {entries[0][0]!r} or a whole layer name); "
                "`tfgen.transfer.trainable_summary(model)` lists them"
            )
        return chosen
    if isinstance(layers, (list, tuple)):
        return _select_names(model, entries, layers)
    raise TfgenUsageError(
        f"layers must be a list of names, a regular expression, a slice or 'all', got "
        f"{type(layers).__name__}"
    )


def _select_names(model, entries, names):
    by_path = {e[0]: e for e in entries}
    containers = _containers(model)
    chosen = {}
    for name in names:
        if isinstance(name, keras.layers.Layer):
            hits = [e for e in entries if e[1] is name or any(a is name for a in e[2])]
        elif not isinstance(name, str):
            raise TfgenUsageError(f"layer names must be strings, got {name!r}")
        elif name in by_path:
            hits = [by_path[name]]
        elif name in containers:  # a whole sub-network, e.g. "discriminator"
            hits = [e for e in entries if e[0].startswith(name + "/")]
        else:
            hits = [e for e in entries if e[0].rsplit("/", 1)[-1] == name]
            if len(hits) > 1:
                raise TfgenUsageError(
                    f"layer name {name!r} is ambiguous in {model.name}: "
                    f"{', '.join(e[0] for e in hits)}; pass the full path"
                )
        if not hits:
            sample = ", ".join(list(by_path)[:6])
            raise TfgenUsageError(
                f"{model.name} has no layer {name!r}; paths look like {sample}, ... "
                "(`tfgen.transfer.trainable_summary(model)` lists them all)"
            )
        for e in hits:
            chosen[e[0]] = e
    return [e for e in entries if e[0] in chosen]


# --------------------------------------------------------------------------- freezing
def set_trainable(model, layers, trainable, recompile_model=True):
    """Freezes (`trainable=False`) or unfreezes the selected layers; returns their paths.

    Args:
        model: keras.Model. A tfgen model or any Keras model; nested models are walked.
        layers: what to change: a list of layer paths or names (`"discriminator/block0_conv"`,
            `"block0_conv"` when unique, `"discriminator"` for a whole sub-network), a regular
            expression (str or compiled; matched against the whole path or the whole layer
            name), a slice of `layer_paths(model)`, or `"all"`.
        trainable: bool. The new state.
        recompile_model: bool. When the model is already compiled, call `recompile(model)` so
            the change takes effect in the next `fit`. Defaults to True.
    """
    chosen = _select(model, layers)
    changed = False
    for _path, layer, ancestors in chosen:
        if is_trainable(layer, ancestors) != bool(trainable):
            changed = True
        if trainable:
            _unfreeze_ancestors(ancestors)
        layer.trainable = bool(trainable)
    if changed and recompile_model and getattr(model, "compiled", False):
        recompile(model)
    return [path for path, _, _ in chosen]


def _unfreeze_ancestors(ancestors):
    # Setting a frozen sub-model trainable would unfreeze all of its layers; keep the others
    # as they were (frozen, since freezing the sub-model froze them all).
    for ancestor in ancestors:
        if not ancestor.trainable:
            frozen = [layer for layer in _flatten(ancestor) if not layer.trainable]
            ancestor.trainable = True
            for layer in frozen:
                layer.trainable = False


def freeze(model, layers=ALL, recompile_model=True):
    """Freezes layers: their weights stay bit-identical through `fit`, and frozen
    BatchNormalization layers run in inference mode (moving statistics untouched).

    See `set_trainable` for the arguments. Returns the paths of the selected layers.
    """
    return set_trainable(model, layers, False, recompile_model)


def unfreeze(model, layers=ALL, recompile_model=True):
    """Makes layers trainable again (and BatchNormalization back to batch statistics).

    See `set_trainable` for the arguments. Returns the paths of the selected layers.
    """
    return set_trainable(model, layers, True, recompile_model)


def frozen_layers(model):
    """Paths of the leaf layers that do not train (their own flag or a frozen parent)."""
    return [path for path, layer, anc in _walk(model) if not is_trainable(layer, anc)]


def _size(weight):
    return int(np.prod(weight.shape))


def trainable_summary(model, print_fn=print):
    """Prints each leaf layer's path, type, state and parameter counts, then the totals.

    Returns:
        dict with `trainable_params`, `non_trainable_params` (BatchNormalization's moving
        statistics count here, frozen or not), `frozen_layers` and `layers`.
    """
    rows = []
    total_trainable = total_other = n_frozen = 0
    for path, layer, ancestors in _walk(model):
        trainable = is_trainable(layer, ancestors)
        n_train = sum(_size(w) for w in layer.weights if trainable and w.trainable)
        n_other = sum(_size(w) for w in layer.weights) - n_train
        total_trainable += n_train
        total_other += n_other
        n_frozen += not trainable
        state = "yes" if trainable else "FROZEN"
        rows.append(
            f"{path:40s} {type(layer).__name__:22s} {state:9s} {n_train:>10,} {n_other:>10,}"
        )
    header = f"{'layer':40s} {'type':22s} {'trainable':9s} {'trainable':>10s} {'other':>10s}"
    print_fn("\n".join([header, "-" * len(header), *rows, "-" * len(header)]))
    print_fn(
        f"{total_trainable:,} trainable and {total_other:,} non-trainable parameters; "
        f"{n_frozen} of {len(rows)} layers frozen"
    )
    return {
        "trainable_params": total_trainable,
        "non_trainable_params": total_other,
        "frozen_layers": n_frozen,
        "layers": len(rows),
    }
