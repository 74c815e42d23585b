"""Transfer learning for tfgen models: load a trained model, freeze and unfreeze its layers by
name, and the GAN fine-tuning recipes (FreezeD, frozen coarse generator blocks, progressive
unfreezing with lower learning rates for earlier blocks).

Layers are addressed by path: a GAN's layers are `generator/block0_conv`,
`discriminator/block1_norm`, ...; a bare name (`block1_norm`) works where it is unique.
`trainable_summary(model)` prints every path and its state.

Freezing before `compile` needs nothing more. Freezing after `compile` must rebuild the
optimizers (their slots are built for the trainable variables at compile time) and the traced
train step (it captured the old variable list and BatchNormalization's mode): `freeze` and
`unfreeze` do that through `recompile(model)` when the model is compiled, keeping the
optimizers' configuration, iteration count and slots.
"""

import contextlib
import pathlib
import re

import keras
import numpy as np
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.optimizers import FusedAdam

ALL = "all"
_BLOCK_NAME = re.compile(r"^([A-Za-z]+\d+)_")
# Attribute names under which tfgen models keep their networks, per role.
GENERATORS = ("generator", "generator_a2b", "generator_b2a")
DISCRIMINATORS = ("discriminator", "discriminator_a", "discriminator_b")


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


def _walk(model, prefix=""):
    """Yields `(path, layer, ancestors)` for every leaf layer, in the model's layer order."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        path = f"{prefix}{layer.name}"
        if _is_container(layer):
            for sub_path, sub, ancestors in _walk(layer, path + "/"):
                yield sub_path, sub, (layer, *ancestors)
        else:
            yield path, layer, ()


def _containers(model, prefix=""):
    """{path: sub-model} of the nested models (the generator, the discriminator, ...)."""
    found = {}
    for layer in model.layers:
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


def _is_trainable(layer, ancestors):
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
        if _is_trainable(layer, ancestors) != bool(trainable):
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
    return [path for path, layer, anc in _walk(model) if not _is_trainable(layer, anc)]


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
        trainable = _is_trainable(layer, ancestors)
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


# --------------------------------------------------------------------------- recompiling
def _optimizers(model):
    """{attribute: optimizer} of a compiled model (`optimizer`, or `g_optimizer`/`d_optimizer`)."""
    return {
        name: value
        for name, value in vars(model).items()
        if isinstance(value, keras.optimizers.Optimizer)
    }


def _copy_optimizer_state(old, new):
    """Copies the step count and each still-trained variable's slots from `old` to `new`.

    Keras optimizers keep one slot list per kind (Adam: momentums, velocities) indexed like
    the variables they were built for; any such list is matched by variable identity.
    """
    new.iterations.assign(old.iterations)
    old_vars = list(getattr(old, "_trainable_variables", []))
    new_vars = list(getattr(new, "_trainable_variables", []))
    if not old_vars or not new_vars:
        return
    old_index = {id(v): i for i, v in enumerate(old_vars)}
    for attr, old_slots in vars(old).items():
        if attr == "_trainable_variables" or not isinstance(old_slots, list):
            continue
        new_slots = getattr(new, attr, None)
        if len(old_slots) != len(old_vars) or not isinstance(new_slots, list):
            continue
        if len(new_slots) != len(new_vars):
            continue
        for j, variable in enumerate(new_vars):
            i = old_index.get(id(variable))
            if i is None or old_slots[i] is None or new_slots[j] is None:
                continue  # a newly unfrozen variable starts with fresh slots
            if tuple(old_slots[i].shape) == tuple(new_slots[j].shape):
                new_slots[j].assign(old_slots[i])


def recompile(model, keep_state=True):
    """Recompiles a compiled model so changes to what is trainable take effect.

    Builds new optimizers from the old ones' configuration (learning rate, betas, ...) for the
    variables trainable now, retraces the train step and, with `keep_state`, carries over the
    iteration count (which also seeds a GAN's training noise) and the slots (e.g. Adam's
    moments) of every variable that was trained before; newly unfrozen variables start with
    zero slots.

    Args:
        model: keras.Model. A compiled model.
        keep_state: bool. Carry the optimizer state over. Defaults to True.
    """
    if not getattr(model, "compiled", False):
        raise TfgenUsageError(
            f"{model.name} is not compiled, so there is nothing to recompile; compile it after "
            "freezing (freezing before compile needs no recompile)"
        )
    config = model.get_compile_config()
    if config is None:
        raise TfgenUsageError(
            f"{type(model).__name__} does not report its compile configuration "
            "(get_compile_config returned None); call model.compile(...) again yourself"
        )
    old = _optimizers(model)
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model.compile_from_config(config)
        if keep_state:
            new = _optimizers(model)
            for name, optimizer in old.items():
                if name in new and new[name] is not optimizer:
                    _copy_optimizer_state(optimizer, new[name])
    # fit() holds on to train_function; a callback that recompiles mid-fit needs a new one.
    model.make_train_function(force=True)
    return model


# --------------------------------------------------------------------------- blocks
def network_blocks(network):
    """Groups a network's leaf layers into blocks, input side first.

    Layers named `<word><digits>_...` (`block0_conv`, `block0_bn`, `down3_conv`) share a block;
    the layers before the first block form a stem block (a DCGAN generator's `project` layers)
    and the layers after the last one a head block (`to_image`, `logit`). A network without
    such names gets one block per layer with weights. Blocks without weights are dropped.

    Returns:
        list of `(block_name, [layer paths relative to the network])`.
    """
    entries = [(path, layer) for path, layer, _ in _walk(network)]
    keys = [_BLOCK_NAME.match(path.rsplit("/", 1)[-1]) for path, _ in entries]
    groups = []
    if any(keys):
        first = next(i for i, k in enumerate(keys) if k)
        last = max(i for i, k in enumerate(keys) if k)
        current = "stem"
        for i, ((path, _), key) in enumerate(zip(entries, keys)):
            name = key.group(1) if key else ("stem" if i < first else current)
            if i > last:
                name = "head"
            if not groups or groups[-1][0] != name:
                groups.append((name, []))
            groups[-1][1].append(path)
            current = name
    else:
        for path, layer in entries:
            if layer.weights or not groups:
                groups.append((path.rsplit("/", 1)[-1], []))
            groups[-1][1].append(path)
    weighted = {path for path, layer in entries if layer.weights}
    return [(name, paths) for name, paths in groups if weighted.intersection(paths)]


def _networks(model, role):
    names = GENERATORS if role == "generator" else DISCRIMINATORS
    found = [
        (n, getattr(model, n)) for n in names if isinstance(getattr(model, n, None), keras.Model)
    ]
    if not found:
        raise TfgenUsageError(
            f"freeze_{role[0]} needs a model with a {role}; {type(model).__name__} has none "
            f"(it applies to the GANs: {', '.join(DISCRIMINATORS + GENERATORS)})"
        )
    return found


def _freeze_blocks(model, role, n_blocks, recompile_model):
    n_blocks = int(n_blocks)
    if n_blocks < 0:
        raise TfgenUsageError(f"freeze_{role[0]} must be >= 0, got {n_blocks}")
    frozen = []
    for _, network in _networks(model, role):
        blocks = network_blocks(network)
        if n_blocks >= len(blocks):
            # The GANs' train steps update each network every step; one with nothing left to
            # train has no gradients to apply.
            raise TfgenUsageError(
                f"freeze_{role[0]}={n_blocks} but {network.name} has {len(blocks)} blocks "
                f"({', '.join(b for b, _ in blocks)}), which would leave it nothing to train; "
                f"pass at most {len(blocks) - 1}"
            )
        prefix = _network_prefix(model, network)
        paths = [prefix + p for _, block in blocks[:n_blocks] for p in block]
        if paths:
            frozen += freeze(model, paths, recompile_model=False)
    if frozen and recompile_model and getattr(model, "compiled", False):
        recompile(model)
    return frozen


def freeze_discriminator_blocks(model, n_blocks, recompile_model=True):
    """FreezeD (Mo et al. 2020, https://arxiv.org/abs/2002.10964): freezes the discriminator's
    lowest `n_blocks` blocks (input side) and fine-tunes the rest.

    The low layers hold generic image features that a small target set cannot re-learn
    without over-fitting; the upper ones adapt to the new domain. Returns the frozen paths.
    """
    return _freeze_blocks(model, "discriminator", n_blocks, recompile_model)


def freeze_generator_blocks(model, n_blocks, recompile_model=True):
    """Freezes the generator's first `n_blocks` blocks: the coarse layers (latent projection,
    lowest resolutions) that set layout, so fine-tuning changes only the finer ones.
    Returns the frozen paths."""
    return _freeze_blocks(model, "generator", n_blocks, recompile_model)


def apply_recipe(model, freeze_d=0, freeze_g=0, recompile_model=True):
    """Unfreezes everything, then freezes `freeze_d` discriminator and `freeze_g` generator
    blocks (input side first). Returns the frozen paths."""
    unfreeze(model, ALL, recompile_model=False)
    frozen = []
    if freeze_d:
        frozen += freeze_discriminator_blocks(model, freeze_d, recompile_model=False)
    if freeze_g:
        frozen += freeze_generator_blocks(model, freeze_g, recompile_model=False)
    if recompile_model and getattr(model, "compiled", False):
        recompile(model)
    return frozen


def _model_networks(model):
    """The networks whose blocks the callbacks schedule: a GAN's, or the model itself."""
    found = [
        net
        for n in GENERATORS + DISCRIMINATORS
        if isinstance(net := getattr(model, n, None), keras.Model)
    ]
    return found or [model]


def _network_prefix(model, network):
    """The path prefix of `network`'s layers inside `model` (`""` for the model itself)."""
    if network is model:
        return ""
    for path, sub in _containers(model).items():
        if sub is network:
            return path + "/"
    raise TfgenUsageError(f"{network.name} is not a sub-network of {model.name}")


def _block_entries(model, network, block):
    prefix = _network_prefix(model, network)
    paths = {prefix + p for p in block}
    return [e for e in _walk(model) if e[0] in paths]


# --------------------------------------------------------------------------- callbacks
class BlockLearningRates(keras.callbacks.Callback):
    """Lower learning rates for earlier blocks ("discriminative fine-tuning", Howard & Ruder
    2018): a trainable block `k` blocks before a network's last one moves at `decay ** k` of
    the learning rate.

    Keras optimizers have one learning rate, so this scales each training step's update of
    those variables instead: `w = w_before + decay**k * (w_after - w_before)`. For SGD without
    momentum, Adam, AdamW (without decay), RMSprop and Adagrad that is exactly a learning rate
    of `decay**k * lr`, because their state does not depend on the learning rate; with
    momentum SGD it is close. With `steps_per_execution > 1` it scales the whole execution's
    update.

    Args:
        decay: float in (0, 1]. Multiplier per block away from the output. 1 turns it off.
    """

    def __init__(self, decay=0.5):
        super().__init__()
        decay = float(decay)
        if not 0.0 < decay <= 1.0:
            raise TfgenUsageError(f"the block learning-rate decay must be in (0, 1], got {decay}")
        self.decay = decay
        self._scaled = None
        self._before = None

    def refresh(self):
        """Recomputes which variables are scaled (call after freezing or unfreezing)."""
        self._scaled = []
        if self.decay == 1.0:
            return
        for network in _model_networks(self.model):
            trainable_blocks = []
            for _, block in network_blocks(network):
                entries = _block_entries(self.model, network, block)
                variables = [
                    w
                    for _, layer, anc in entries
                    if _is_trainable(layer, anc)
                    for w in layer.trainable_weights
                ]
                if variables:
                    trainable_blocks.append(variables)
            for k, variables in enumerate(reversed(trainable_blocks)):
                if k:
                    self._scaled += [(v, self.decay**k) for v in variables]

    def on_train_begin(self, logs=None):
        self.refresh()

    def on_train_batch_begin(self, batch, logs=None):
        if self._scaled is None:
            self.refresh()
        self._before = [tf.identity(v) for v, _ in self._scaled]

    def on_train_batch_end(self, batch, logs=None):
        if not self._before:
            return
        for (variable, scale), before in zip(self._scaled, self._before):
            variable.assign(before + scale * (variable - before))
        self._before = None


class ProgressiveUnfreezing(keras.callbacks.Callback):
    """Unfreezes one more block every `every` epochs (gradual unfreezing, Howard & Ruder 2018).

    The blocks frozen when training starts (e.g. by `apply_recipe(freeze_d=2, freeze_g=1)`)
    are released one at a time per network, the block nearest the output first, and the model
    is recompiled with its optimizer state kept. The number released depends only on the
    epoch number, so a run resumed from its checkpoint picks up the right state.

    Args:
        every: int. Epochs between two unfreezings.
        lr_decay: float or None. Also give earlier trainable blocks lower learning rates
            (see `BlockLearningRates`); None leaves one learning rate.
        verbose: int. 1 prints what was unfrozen.
    """

    def __init__(self, every=1, lr_decay=None, verbose=0):
        super().__init__()
        if int(every) < 1:
            raise TfgenUsageError(f"unfreeze every must be >= 1 epoch, got {every}")
        self.every = int(every)
        self.verbose = verbose
        self.learning_rates = BlockLearningRates(lr_decay) if lr_decay else None
        self.schedule = None  # per network: frozen blocks, nearest the output first
        self.released = 0

    def set_model(self, model):
        super().set_model(model)
        if self.learning_rates is not None:
            self.learning_rates.set_model(model)

    def _plan(self):
        schedule = []
        for network in _model_networks(self.model):
            frozen = []
            for name, block in network_blocks(network):
                entries = _block_entries(self.model, network, block)
                if entries and not any(_is_trainable(layer, anc) for _, layer, anc in entries):
                    frozen.append((f"{network.name}/{name}", [e[0] for e in entries]))
            schedule.append(list(reversed(frozen)))
        return schedule

    def on_train_begin(self, logs=None):
        if self.schedule is None:  # recorded once, so later fit() calls continue the plan
            self.schedule = self._plan()
        if self.learning_rates is not None:
            self.learning_rates.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        target = epoch // self.every
        if target == self.released:
            return
        names = []
        for frozen in self.schedule:
            for i, (name, paths) in enumerate(frozen):
                set_trainable(self.model, paths, i < target, recompile_model=False)
                if self.released <= i < target:
                    names.append(name)
        recompile(self.model)
        self.released = target
        if self.learning_rates is not None:
            self.learning_rates.refresh()
        if self.verbose:
            print(f"epoch {epoch + 1}: unfroze {', '.join(names) or 'nothing new'}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.learning_rates is not None:
            self.learning_rates.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.learning_rates is not None:
            self.learning_rates.on_train_batch_end(batch, logs)


# --------------------------------------------------------------------------- the job
def _release_as_at_checkpoint(unfreezing, model, checkpoints, steps_per_epoch):
    """Before a resumed run loads its checkpoint: releases the blocks the run had released
    when it wrote it, so the optimizers hold the variables (and slots) the checkpoint holds;
    with fewer, Keras would skip loading their state."""
    from tfgen import reliability

    meta = reliability.read_metadata(checkpoints)
    if meta is None or not int(meta["step"]):  # read_metadata checks the key
        return
    unfreezing.set_model(model)
    unfreezing.on_train_begin()
    # The epoch of the checkpoint's last step: one written at an epoch's end precedes the
    # next epoch's release, which the resumed fit then makes as the uninterrupted run did.
    unfreezing.on_epoch_begin((int(meta["step"]) - 1) // steps_per_epoch)


def _compile_for_finetuning(model, learning_rate):
    from tfgen.models.cyclegan import CycleGAN
    from tfgen.models.gan import GAN, default_adam

    if learning_rate is None:
        model.compile()  # the model's own default optimizers
    elif isinstance(model, GAN):
        model.compile(
            g_optimizer=default_adam(learning_rate), d_optimizer=default_adam(learning_rate)
        )
    elif isinstance(model, CycleGAN):  # four default optimizers, one learning rate
        model.compile(learning_rate=learning_rate)
    else:
        model.compile(optimizer=FusedAdam(learning_rate))


def _finetuning_data(model, dataset, batch_size, seed, data_dir, limit, dataset_b=None, task=None):
    """`training.make_dataset`'s arguments for `model`'s data: at its own image shape (a
    pix2pix model's input shape, domain A's for a CycleGAN) and, for a pix2pix model, with its
    own task and task options. A `task` given for another kind of model reaches
    `make_dataset`, which refuses it."""
    shape = getattr(model, "image_shape", None) or getattr(model, "input_shape_", None)
    size, _, channels = shape or (None, None, None)
    own_task = getattr(model, "task", None)
    return dict(
        model_cls=type(model),
        dataset=dataset,
        batch_size=batch_size,
        seed=seed,
        image_size=size,
        channels=channels,
        data_dir=data_dir,
        limit=limit,
        dataset_b=dataset_b,
        task=task or own_task,
        options={"task_options": model.task_options} if own_task else None,
    )


def finetune(
    source,
    dataset,
    out,
    freeze_d=0,
    freeze_g=0,
    unfreeze_every=None,
    lr_decay=None,
    steps=None,
    epochs=None,
    batch_size=64,
    seed=0,
    learning_rate=None,
    data_dir=None,
    strategy="auto",
    limit=None,
    verbose=1,
    samples=64,
    callbacks=None,
    checkpoint_every=None,
    dataset_b=None,
    task=None,
):
    """Fine-tunes a trained model on a new dataset and writes a run folder (`tfgen finetune`).

    The run folder is laid out like `tfgen train`'s: `out/model.keras`, `out/samples/`,
    `out/logs/` (TensorBoard), `out/checkpoints/` (resumes an interrupted run) and
    `out/run.json`.

    Args:
        source: str or keras.Model. A zoo name, `.keras` file or tfgen SavedModel (see
            `load_for_finetuning`), or a model in memory (used as it is, e.g. a fresh model
            for a from-scratch baseline trained exactly like the fine-tuned one).
        dataset: str or tf.data.Dataset. A `tfgen.data.load` source, loaded at the model's
            image size and channels; or batched images in [-1, 1].
        freeze_d: int. FreezeD: discriminator blocks to freeze, input side first.
        freeze_g: int. Generator blocks to freeze, coarsest first.
        unfreeze_every: int or None. Release one frozen block every this many epochs.
        lr_decay: float or None. Learning-rate multiplier per block away from the output.
        steps, epochs: int. Length of the run (one of them; default one epoch).
        learning_rate: float or None. Adam's learning rate; None keeps the model's default.
        callbacks: list. More Keras callbacks (e.g. a quality curve).
        checkpoint_every: int or None. Also checkpoint every this many steps within epochs
            (a killed run resumes at that step, with the data where an uninterrupted run
            has it when `dataset` is a source name rather than a `tf.data.Dataset`).
        dataset_b: str or None. A CycleGAN's domain B source (`dataset` is then domain A).
        task: str or None. A pix2pix model's paired task (`superres`, `inpaint`, ...);
            defaults to the task it was trained for, with the same task options. Another
            task becomes the model's own, with that task's default options.
    """
    from tfgen import distribute, reliability, training
    from tfgen.data import resolve_task_options

    out = pathlib.Path(out)
    reliability.check_checkpoint_every(checkpoint_every)
    strategy = distribute.get_strategy(strategy)
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = source if isinstance(source, keras.Model) else load_for_finetuning(source)
        if hasattr(model, "seed"):
            model.seed = int(seed)
        frozen = apply_recipe(model, freeze_d, freeze_g, recompile_model=False)
        if task is not None and getattr(model, "task", task) != task:
            # A pix2pix model adapted to another task translates for that one from now on
            # (its saved config says so), with that task's default options.
            model.task = task
            model.task_options = resolve_task_options(task, model.input_shape_, None)
        _compile_for_finetuning(model, learning_rate)
    if isinstance(dataset, tf.data.Dataset):
        ds, remake = dataset, None
    else:
        data_args = _finetuning_data(
            model, dataset, batch_size, seed, data_dir, limit, dataset_b, task
        )
        ds = training.make_dataset(**data_args)

        def remake():  # the same seeded pipeline again, for the epochs after a partial one
            return training.make_dataset(**data_args).repeat()

    batches = int(ds.cardinality())
    if batches < 1:
        raise TfgenUsageError(f"{dataset} gives no full batch of {batch_size}; lower --batch-size")
    n_epochs, steps_per_epoch = training.plan_steps(batches, steps, epochs)
    if lr_decay:
        BlockLearningRates(lr_decay)  # checks the decay before the run folder is made
    # As in `tfgen train`: in a multi-worker run only the chief's files are kept, and every
    # worker resumes from the chief's checkpoint.
    shared_checkpoints = out / "checkpoints"
    with distribute.output_dir(out, strategy) as out:
        training.open_run_folder(out)
        unfreezing = None
        if unfreeze_every:
            unfreezing = ProgressiveUnfreezing(unfreeze_every, lr_decay, verbose=verbose)
            _release_as_at_checkpoint(unfreezing, model, shared_checkpoints, steps_per_epoch)
        # Checkpoints written atomically; a killed run of the same command resumes at the
        # last one. A NaN/Inf loss stops the run before anything else is written.
        checkpoint, start_step = training.restore_checkpoint(
            model,
            out,
            shared_checkpoints,
            steps_per_epoch,
            {"seed": seed, "batch_size": batch_size},
            strategy,
            every=checkpoint_every,
        )
        cbs = [
            reliability.StopOnNonFinite(steps_per_epoch, out / "checkpoints"),
            checkpoint,
            training.sample_callback(model, ds, out, samples, seed),
            keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False),
        ]
        if unfreezing is not None:
            cbs.append(unfreezing)
        elif lr_decay:
            cbs.append(BlockLearningRates(lr_decay))
        history = reliability.resumed_fit(
            model,
            ds.repeat(),
            start_step,
            n_epochs,
            steps_per_epoch,
            cbs + list(callbacks or []),
            verbose,
            remake=remake,
        )
        summary = {
            "source": source.name if isinstance(source, keras.Model) else str(source),
            "kind": getattr(model, "kind", None),
            "dataset": dataset.__class__.__name__
            if isinstance(dataset, tf.data.Dataset)
            else str(dataset),
            "freeze_d": freeze_d,
            "freeze_g": freeze_g,
            "unfreeze_every": unfreeze_every,
            "lr_decay": lr_decay,
            "frozen_at_start": frozen,
            "epochs": n_epochs,
            "steps_per_epoch": steps_per_epoch,
            "steps": n_epochs * steps_per_epoch,
            "batch_size": batch_size,
            "seed": seed,
        }
        training.finish_run(model, out, checkpoint, history, summary)
    return model
