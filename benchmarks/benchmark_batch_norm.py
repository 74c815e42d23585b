"""BatchNorm's training step, forward and backward: tfgen's fused layer against Keras' layer.

    python benchmarks/benchmark_batch_norm.py

For the BatchNorm shapes of the default DCGAN (batch 64: the projection's [64, 6272] and the
feature maps of 7 x 7 to 28 x 28), times one traced function that runs the layer in training
mode and takes the gradients of a loss with respect to its input, gamma and beta. Both layers
are timed in alternating blocks in this process; each side's fastest block counts (other
processes on a shared machine only slow blocks down). Prints one markdown table with the
ratio Keras / fused.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHAPES = ((64, 6272), (64, 7, 7, 128), (64, 14, 14, 128), (64, 28, 28, 64))


def step_function(layer):
    import tensorflow as tf

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, *layer.trainable_weights])

    return step


def best_ms(step, x, calls=20, blocks=5):
    best = float("inf")
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            grads = step(x)
        grads[0].numpy()
        best = min(best, (time.perf_counter() - start) / calls)
    return 1000 * best


def main():
    import keras
    import tensorflow as tf

    from tfgen.networks.fused_batch_norm import FusedBatchNormalization

    print("| shape | Keras BatchNormalization ms | FusedBatchNormalization ms | Keras / fused |")
    print("| --- | --- | --- | --- |")
    for shape in SHAPES:
        x = tf.random.normal(shape)
        steps = {}
        for name, cls in (
            ("keras", keras.layers.BatchNormalization),
            ("fused", FusedBatchNormalization),
        ):
            layer = cls(synchronized=True)  # as the DCGAN builder makes them
            layer.build(shape)
            steps[name] = step_function(layer)
            steps[name](x)  # trace
        times = {name: float("inf") for name in steps}
        for _ in range(3):  # alternate, keep each side's fastest
            for name, step in steps.items():
                times[name] = min(times[name], best_ms(step, x, blocks=2))
        print(
            f"| {list(shape)} | {times['keras']:.2f} | {times['fused']:.2f} | "
            f"{times['keras'] / times['fused']:.2f}x |"
        )


if __name__ == "__main__":
    main()
