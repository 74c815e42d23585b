"""Mixed precision: the Keras dtype policy of a run, and loss scaling for float16 updates.

Custom `compile` methods get no automatic `LossScaleOptimizer` from Keras, and custom
`train_step`s must scale their losses themselves; the helpers here do both for every model.
"""

import contextlib

import keras
import tensorflow as tf

from tfgen.errors import TfgenUsageError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def check_precision(name):
    if name not in PRECISIONS:
        raise TfgenUsageError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    return name


@contextlib.contextmanager
def policy(name):
    """Sets the global Keras dtype policy to `name` inside the block and restores it after.

    Models must be built inside the block: layers take the policy they are created under.
    """
    check_precision(name)
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def uses_float16(*models):
    """Whether any layer of `models` computes in float16 (and so needs loss scaling).

    Looks at the layers rather than the global policy, so a model saved under
    `mixed_float16` and loaded under float32 is still recognised.
    """
    for model in models:
        for layer in model._flatten_layers(include_self=True):
            if getattr(layer, "compute_dtype", None) == "float16":
                return True
    return False


def loss_scaled(optimizer, *models):
    """`optimizer` wrapped in a `LossScaleOptimizer` when `models` compute in float16.

    An optimizer that is already a `LossScaleOptimizer` (e.g. deserialized from a saved
    compile config) is returned as it is.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or not uses_float16(*models):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def apply_loss_gradients(tape, loss, *updates):
    """Differentiates `loss` and applies the gradients, loss-scaled where an optimizer asks.

    Equivalent to `tape.gradient(optimizer.scale_loss(loss), variables)` then
    `optimizer.apply_gradients(...)` (which unscales, and skips the step when a gradient is not
    finite), but the scale enters as the output gradient, so it can be called after the tape
    closed. Without loss scaling `scale_loss` returns 1 and this is a plain update.

    Args:
        tape: tf.GradientTape that recorded `loss` (persistent when it serves several calls).
        loss: scalar float32 tensor.
        *updates: `(optimizer, variables)` pairs sharing `loss` (e.g. CycleGAN's two
            generators): one backward pass, each optimizer's gradients at its own scale.
    """
    first_scale = updates[0][0].scale_loss(tf.ones_like(loss))
    variables = [v for _, group in updates for v in group]
    grads = tape.gradient(loss, variables, output_gradients=first_scale)
    start = 0
    for optimizer, group in updates:
        part = grads[start : start + len(group)]
        start += len(group)
        if optimizer is not updates[0][0] and _scales(optimizer, updates[0][0]):
            # Loss scales are powers of two, so moving between them is exact.
            ratio = optimizer.scale_loss(tf.ones_like(loss)) / first_scale
            part = [None if g is None else g * tf.cast(ratio, g.dtype) for g in part]
        optimizer.apply_gradients(zip(part, group))


def _scales(*optimizers):
    return any(
        isinstance(o, keras.optimizers.LossScaleOptimizer) or o.loss_scale_factor is not None
        for o in optimizers
    )


def float32_copy(model):
    """`model` rebuilt to compute in float32 with the same weights, or `model` itself when it
    already does.

    Mixed-precision models keep float32 variables and cast them to bfloat16/float16 per layer;
    TFLite has no kernels for those types, so export converts a float32 twin (the weights are
    the same numbers; outputs differ from the mixed model by its rounding only).
    """
    return with_precision(model, "float32")


def _output_names(functional_config):
    """The names of a serialized functional network's output layers."""
    outputs = functional_config.get("output_layers") or []
    if outputs and isinstance(outputs[0], str):  # one output: [name, node, tensor]
        outputs = [outputs]
    return {entry[0] for entry in outputs}


def _policies_as(config, name, head=False):
    """`config` (a serialized Keras object) with every layer's dtype policy made `name`,
    except the output layers of each functional network (`head`), which stay float32."""
    if isinstance(config, list):
        return [_policies_as(v, name, head) for v in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy":
        return {**config, "config": {**config["config"], "name": "float32" if head else name}}
    if config.get("class_name") == "Functional":
        inner = config["config"]
        outputs = _output_names(inner)
        layers = [
            _policies_as(layer, name, layer.get("name") in outputs) for layer in inner["layers"]
        ]
        return {**config, "config": {**inner, "layers": layers}}
    return {k: _policies_as(v, name, head) for k, v in config.items()}


def with_precision(model, name):
    """`model` rebuilt to compute in the dtype policy `name` with the same weights, or `model`
    itself when it already does.

    A model keeps the policy it was saved with, whatever the policy it is loaded under: a
    float32 model fine-tuned with `--precision mixed_bfloat16` would go on computing in float32
    (and a bfloat16 one in bfloat16 under float32). The copy follows tfgen's builders: every
    layer computes in `name` but each network's output layers (the tanh, the logits, the VAE's
    heads), which compute in float32 under every policy. Variables are float32 in all three.
    """
    check_precision(name)
    original = keras.saving.serialize_keras_object(model)
    config = _policies_as(original, name)
    if config == original:
        return model
    with policy(name):
        copy = keras.saving.deserialize_keras_object(config)
    weights = model.get_weights()
    if len(copy.weights) != len(weights):
        raise ValueError(
            f"the {name} copy of {model.name} has {len(copy.weights)} weights, "
            f"the model {len(weights)}"
        )
    copy.set_weights(weights)
    return copy
