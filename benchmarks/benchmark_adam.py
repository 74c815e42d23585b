"""One Adam update of a model's weights: tfgen's FusedAdam against Keras' Adam.

    python benchmarks/benchmark_adam.py

For the networks of each default model, times one traced `optimizer.apply` of fixed
gradients to a copy of the weights: Keras' Adam (about twenty element-wise ops per variable)
against `tfgen.optimizers.FusedAdam` (one `ResourceApplyAdam` kernel per variable). Both are
timed in alternating blocks in this process; each side's fastest block counts (other
processes on a shared machine only slow blocks down). Prints one markdown table with the
ratio Keras / fused and the largest difference of the updated weights.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KINDS = ("dcgan", "wgan_gp", "pix2pix", "vae")


def networks(kind):
    """The trainable variables of `kind`'s default model, network by network."""
    from tfgen import registry

    shapes = {"pix2pix": (32, 32, 1)}
    model = registry.get_model_class(kind)(
        **({"image_shape": shapes[kind]} if kind in shapes else {})
    )
    subs = [getattr(model, n, None) for n in ("generator", "discriminator", "encoder", "decoder")]
    return [v for sub in subs if sub is not None for v in sub.trainable_variables]


def apply_function(cls, weights):
    """(traced apply, the variables it updates) for a fresh `cls` optimizer."""
    import keras
    import numpy as np
    import tensorflow as tf

    variables = [keras.Variable(w.numpy()) for w in weights]
    grads = [
        tf.constant(np.random.default_rng(i).normal(size=w.shape).astype(np.float32))
        for i, w in enumerate(weights)
    ]
    optimizer = cls(learning_rate=2e-4, beta_1=0.5)
    optimizer.build(variables)
    apply = tf.function(lambda: optimizer.apply(grads, variables))
    apply()  # trace
    return apply, variables


def best_ms(apply, calls=20, blocks=2):
    best = float("inf")
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            apply()
        best = min(best, (time.perf_counter() - start) / calls)
    return 1000 * best


def main():
    import keras
    import numpy as np

    from tfgen.optimizers import FusedAdam

    print(
        "| model | weights | Keras Adam ms | FusedAdam ms | Keras / fused | max weight difference |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        weights = networks(kind)
        runs = {
            "keras": apply_function(keras.optimizers.Adam, weights),
            "fused": apply_function(FusedAdam, weights),
        }
        times = {name: float("inf") for name in runs}
        for _ in range(3):  # alternate, keep each side's fastest
            for name, (apply, _) in runs.items():
                times[name] = min(times[name], best_ms(apply))
        # Both applied the same gradients the same number of times.
        difference = max(
            float(np.abs(a.numpy() - b.numpy()).max())
            for a, b in zip(runs["keras"][1], runs["fused"][1])
        )
        count = sum(int(np.prod(w.shape)) for w in weights)
        print(
            f"| {kind} | {count:,} | {times['keras']:.2f} | {times['fused']:.2f} | "
            f"{times['keras'] / times['fused']:.2f}x | {difference:.1e} |"
        )


if __name__ == "__main__":
    main()
