"""Optimizers: Keras' Adam with its update fused into one kernel per variable on TensorFlow,
and `LinearDecay`, the learning-rate schedule CycleGAN's paper trains with.

Keras 3's Adam writes each variable's update as about twenty element-wise ops (moments,
bias correction, square root, division, three assigns). Each op is a separate pass over
the variable, so for the multi-million-weight networks of a GAN the optimizer streams every
weight through memory about thirty times per update. TensorFlow's `ResourceApplyAdam`
kernel computes the same formula in one pass, in the same order:

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    w -= m * alpha / (sqrt(v) + epsilon)

`FusedAdam` is `keras.optimizers.Adam` (same arguments, slots, config and checkpoints) whose
`update_step` calls that kernel. AMSGrad, sparse gradients and other backends run Keras' own
code.
"""

import keras
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.registry import serializable


def _handle(variable):
    """The resource handle of a Keras or TF variable (a replica's component inside a
    `tf.distribute` update call)."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle


@serializable
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam`, updating each variable with one `ResourceApplyAdam` kernel.

    Takes Keras' Adam arguments and gives its results (the kernel computes the same
    formula; tests compare the two). Weight decay, clipping, EMA and gradient accumulation
    are Keras' base-class steps around `update_step`, so they work unchanged.
    """

    def update_step(self, gradient, variable, learning_rate):
        fused = (
            keras.backend.backend() == "tensorflow"
            and not self.amsgrad
            and not isinstance(gradient, tf.IndexedSlices)
        )
        if not fused:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        # As Keras computes them: the powers from `cast(beta)` (a Python float cast goes
        # through float32, which matters for float64 variables), `1 - beta` from the float.
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), local_step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.constant(self.beta_1, dtype),
            beta2=tf.constant(self.beta_2, dtype),
            epsilon=tf.constant(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


@serializable
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate, then a linear decay to 0 at `total_steps` (the paper: 100
    epochs constant, 100 decaying).

    Args:
        initial_learning_rate: float. The rate of the constant phase. Defaults to 2e-4.
        total_steps: int. The run's optimizer steps; the rate reaches 0 there.
        decay_start: float. Share of `total_steps` held constant, in [0, 1]. Defaults to 0.5.
    """

    def __init__(self, initial_learning_rate=2e-4, total_steps=1, decay_start=0.5):
        if int(total_steps) < 1:
            raise TfgenUsageError(f"total_steps must be >= 1, got {total_steps}")
        if not 0.0 <= float(decay_start) <= 1.0:
            raise TfgenUsageError(f"decay_start is a share of the run in [0, 1], got {decay_start}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.decay_start = float(decay_start)

    def __call__(self, step):
        start = self.decay_start * self.total_steps
        span = max(self.total_steps - start, 1.0)
        progress = (keras.ops.cast(step, "float32") - start) / span
        return self.initial_learning_rate * (1.0 - keras.ops.clip(progress, 0.0, 1.0))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps,
            "decay_start": self.decay_start,
        }


def learning_rate_for(settings, total_steps):
    """The learning rate a recipe's `[optimizer]` asks for: a float or a Keras schedule."""
    if settings.schedule == "piecewise":
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            list(settings.boundaries), list(settings.values)
        )
    if settings.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            settings.learning_rate, decay_steps=int(total_steps), alpha=settings.alpha
        )
    if settings.schedule == "linear":
        return LinearDecay(settings.learning_rate, int(total_steps), _decay_start(settings))
    return settings.learning_rate


def _decay_start(settings):
    return 0.5 if settings.decay_start is None else settings.decay_start


def recipe_changes(model, settings, total_steps):
    """`compile` arguments that apply a recipe's `[optimizer]` (`tfgen.config.Optimizer`) to
    a compiled model's own default optimizers; {} when the recipe changes nothing.

    Each optimizer the model declares (`optimizer_slots`) is rebuilt from its own config with
    the recipe's values put in, so what the recipe leaves out keeps the model's default.
    A model whose rate follows the run (`schedules_over_run`: CycleGAN's linear decay) takes
    only a learning rate and where its decay starts, through `compile(learning_rate=,
    decay_start=)`.
    """
    from tfgen.errors import TfgenUsageError

    if settings is None:
        return {}
    fields = {"beta_1": settings.beta_1, "beta_2": settings.beta_2,
              "weight_decay": settings.weight_decay}  # fmt: skip
    fields = {k: v for k, v in fields.items() if v is not None}
    rate = learning_rate_for(settings, total_steps)
    if rate is None and not fields:
        return {}
    if model.schedules_over_run:
        if fields or settings.schedule not in ("constant", "linear"):
            raise TfgenUsageError(
                f"a {model.kind}'s learning rate follows the run (constant, then a linear decay "
                "to 0): its recipe sets only optimizer.learning_rate, and where the decay "
                "starts with schedule = 'linear' and decay_start"
            )
        if settings.schedule == "linear":
            return {"learning_rate": settings.learning_rate,
                    "decay_start": _decay_start(settings)}  # fmt: skip
        return {"learning_rate": rate}
    changes = {}
    for slot in model.optimizer_slots:
        default = getattr(model, slot)
        config = default.get_config()
        config.update(fields)
        if rate is not None:
            config["learning_rate"] = rate
        changes[slot] = type(default).from_config(config)
    return changes
