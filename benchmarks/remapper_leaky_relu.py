"""Which op pattern makes grappler's remapper fail, and what the failure costs.

    python benchmarks/remapper_leaky_relu.py [--batch 64] [--size 64] [--calls 5] [--blocks 5]

Compiling a DCGAN train step in mixed_bfloat16 logged "remapper failed: INVALID_ARGUMENT:
Mutation::Apply error: fanout 'LeakyReluGrad' exist for missing node 'BiasAdd'". This builds the
discriminator's first blocks (Conv2D stride 2, bias, LeakyReLU 0.2, as tfgen's DCGAN has them)
with their gradients, in float32 and bfloat16, in these forms:

- `bias+leaky_relu`: Conv2D -> BiasAdd -> LeakyRelu (tfgen's layers);
- `bias+leaky_relu/no_remapper`: the same graph with grappler's remapper turned off;
- `bias+relu`: the same with Relu, whose gradient reads the output, not the BiasAdd (another
  model: shown for the fusion a training graph can get);
- `add+leaky_relu`: the bias added with AddV2 instead of BiasAdd (same arithmetic);
- `bias+maximum`: LeakyReLU written max(x, 0.2 x) (same values, Maximum's gradient);
- `bias+leaky_relu/output_grad`: LeakyRelu with a custom gradient that reads its output
  (LeakyReluGrad(dy, y): the same gradient for alpha > 0), so the BiasAdd has one consumer.

and, for the failure only, `keras`: Keras' Conv2D and LeakyReLU layers (tfgen's DCGAN uses
them) in a `tf.function` with a GradientTape.

For each it prints whether the remapper logged a failure (each form is compiled in a fresh child
process: in one process only the first failing graph's message was seen), the convolutions grappler left in the graph
that ran (with their `fused_ops`) and the best time per call of one graph session over
`--blocks` blocks of `--calls` calls, alternating the forms, in this one process, on one thread
by default (`--threads`), with the CPU time of that block beside its wall time. On a shared
machine read the best blocks only; other processes slow blocks down, never speed them up.
"""

import argparse
import collections
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # the remapper's message is a warning

FORMS = (
    "bias+leaky_relu",
    "bias+leaky_relu/no_remapper",
    "bias+relu",
    "add+leaky_relu",
    "bias+maximum",
    "bias+leaky_relu/output_grad",
)


def leaky_relu_output_grad(tf, x, alpha=0.2):
    """LeakyReLU whose gradient reads its output instead of its input, as ReluGrad does: for
    alpha > 0, y > 0 exactly where x > 0, so LeakyReluGrad(dy, y) is the same gradient, and
    the BiasAdd before it has one consumer left, which the remapper can fuse."""

    @tf.custom_gradient
    def leaky(x):
        y = tf.nn.leaky_relu(x, alpha)
        return y, lambda dy: tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=alpha)

    return leaky(x)


def session_for(tf, form, graph, threads=1):
    """A session on `graph` running `threads` ops' threads; the remapper off for the
    `/no_remapper` form."""
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
    )
    if form.endswith("/no_remapper"):
        from tensorflow.core.protobuf import rewriter_config_pb2

        config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
    return tf.compat.v1.Session(graph=graph, config=config)


WIDTHS = (32, 64)  # tfgen's DCGAN discriminator at 64x64, width 32: its first two blocks


def build(tf, form, dtype, batch, size):
    """The two blocks' loss and gradients in a new graph; returns (graph, fetches)."""
    graph = tf.Graph()
    with graph.as_default():
        rng = tf.random.stateless_uniform
        x = tf.Variable(rng([batch, size, size, 3], [0, 1], -1.0, 1.0), name="images")
        variables, h = [], tf.cast(x, dtype)
        channels = 3
        for i, width in enumerate(WIDTHS):
            w = tf.Variable(rng([4, 4, channels, width], [i, 2], -0.1, 0.1), name=f"w{i}")
            b = tf.Variable(rng([width], [i, 3], -0.1, 0.1), name=f"b{i}")
            variables += [w, b]
            h = tf.nn.conv2d(h, tf.cast(w, dtype), strides=2, padding="SAME")
            h = (
                h + tf.cast(b, dtype)
                if form == "add+leaky_relu"
                else tf.nn.bias_add(h, tf.cast(b, dtype))
            )
            if form == "bias+relu":
                h = tf.nn.relu(h)
            elif form == "bias+maximum":
                h = tf.maximum(h, 0.2 * h)
            elif form == "bias+leaky_relu/output_grad":
                h = leaky_relu_output_grad(tf, h)
            else:
                h = tf.nn.leaky_relu(h, 0.2)
            channels = width
        loss = tf.reduce_mean(tf.square(tf.cast(h, tf.float32)))
        grads = tf.gradients(loss, variables)
        init = tf.compat.v1.global_variables_initializer()
    return graph, init, [loss, *grads]


class CapturedStderr:
    """TensorFlow's C++ log lines written while the block ran (fd 2 redirected to a file)."""

    def __enter__(self):
        sys.stderr.flush()
        self.file = tempfile.TemporaryFile(mode="w+")
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read()
        self.file.close()


def optimised_ops(tf, session, fetches):
    """The contraction and activation ops of the graph as it ran (after grappler and oneDNN's
    rewrite), with the ops each fused convolution absorbed."""
    metadata = tf.compat.v1.RunMetadata()
    options = tf.compat.v1.RunOptions(output_partition_graphs=True)
    session.run(fetches, options=options, run_metadata=metadata)
    ops = collections.Counter()
    for graph in metadata.partition_graphs:
        for node in graph.node:
            if any(s in node.op for s in ("Conv", "Relu", "Maximum")):
                fused = [op.decode() for op in node.attr["fused_ops"].list.s]
                ops[node.op + (f"[{'+'.join(fused)}]" if fused else "")] += 1
    return ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))


def keras_step(tf, dtype):
    """Keras' Conv2D + LeakyReLU layers, as tfgen's discriminator has them, with gradients."""
    import keras

    keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if dtype == tf.bfloat16 else "float32")
    net = keras.Sequential([keras.Input((16, 16, 3))] + [
        layer
        for width in WIDTHS
        for layer in (keras.layers.Conv2D(width, 4, strides=2, padding="same"),
                      keras.layers.LeakyReLU(0.2))
    ])  # fmt: skip

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.cast(net(x, training=True), tf.float32)))
        return tape.gradient(loss, net.trainable_variables)

    step(tf.random.uniform([8, 16, 16, 3]))


def detect(dtype_name, form):
    """Child process: compiles one form and prints whether the remapper logged a failure."""
    import tensorflow as tf

    dtype = tf.as_dtype(dtype_name)
    with CapturedStderr() as log:
        if form == "keras":
            keras_step(tf, dtype)
        else:
            graph, init, fetches = build(tf, form, dtype, 8, 16)
            with session_for(tf, form, graph) as session:
                session.run(init)
                session.run(fetches)
    failed = [
        line.split("] ", 1)[-1] for line in log.text.splitlines() if "remapper failed" in line
    ]
    print("FAILED " + failed[0][:240] if failed else "ok")


def remapper_failures():
    """(dtype, form) -> the failure message or None, each compiled in a fresh process."""
    import subprocess

    found = {}
    for dtype in ("float32", "bfloat16"):
        for form in (*FORMS, "keras"):
            out = subprocess.run(
                [sys.executable, __file__, "--detect", dtype, form],
                capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]  # fmt: skip
            found[(dtype, form)] = out[len("FAILED ") :] if out.startswith("FAILED") else None
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="ops' threads (default 1)")
    parser.add_argument("--detect", nargs=2, metavar=("DTYPE", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.detect:
        return detect(*args.detect)

    failures = remapper_failures()
    import tensorflow as tf

    sessions = {}
    print(f"batch {args.batch}, {args.size}x{args.size}x3, blocks {WIDTHS}, fwd + bwd")
    for dtype in (tf.float32, tf.bfloat16):
        for form in (*FORMS, "keras"):
            failed = failures[(dtype.name, form)]
            print(f"\n{dtype.name:8} {form:16} remapper failed: {'YES' if failed else 'no'}")
            if failed:
                print("   ", failed)
            if form == "keras":
                continue
            graph, init, fetches = build(tf, form, dtype, args.batch, args.size)
            session = session_for(tf, form, graph, args.threads)
            session.run(init)
            print("    ran:", optimised_ops(tf, session, fetches))  # the first run optimises
            sessions[(dtype.name, form)] = (session, fetches)

    best = dict.fromkeys(sessions, float("inf"))  # fastest block: wall ms per call
    cpu = dict.fromkeys(sessions, float("inf"))  # the same block's CPU ms per call
    order = list(sessions)
    for block in range(args.blocks):  # alternate the forms, reversing the order every block
        for key in order if block % 2 == 0 else order[::-1]:
            session, fetches = sessions[key]
            wall, used = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                session.run(fetches)
            wall = (time.perf_counter() - wall) / args.calls
            if wall < best[key]:
                best[key], cpu[key] = wall, (time.process_time() - used) / args.calls
    print(
        f"\nms per call, {args.threads} thread(s): the fastest of {args.blocks} blocks of "
        f"{args.calls} calls, wall (CPU)"
    )
    print("| form | float32 ms | bfloat16 ms |")
    print("| --- | --- | --- |")
    for form in FORMS:
        f32, bf16 = ("float32", form), ("bfloat16", form)
        print(
            f"| {form} | {1000 * best[f32]:.1f} ({1000 * cpu[f32]:.1f}) "
            f"| {1000 * best[bf16]:.1f} ({1000 * cpu[bf16]:.1f}) |"
        )


if __name__ == "__main__":
    main()
