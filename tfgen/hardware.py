"""What machine a figure was measured on: the CPU's model name and its core count."""

import os
import pathlib
import platform


def cpu_model():
    """The CPU's model name (`/proc/cpuinfo`), or what `platform` knows."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe():
    """`"2 CPU cores (Intel(R) Xeon(R) Processor), no GPU"`; imports TensorFlow for the GPUs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{os.cpu_count()} CPU cores ({cpu_model()}), " + (
        f"{len(gpus)} GPU" if gpus else "no GPU"
    )
