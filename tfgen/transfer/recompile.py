"""Recompiling a model after freezing or unfreezing, keeping its optimizers' state.

Optimizers are built for the variables trainable at compile time; these helpers rebuild them
and carry the iteration count and each still-trained variable's slots over.
"""

import contextlib

import keras

from tfgen.errors import TfgenUsageError


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
