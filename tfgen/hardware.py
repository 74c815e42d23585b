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


def cpu_flags():
    """The CPU's feature flags (`/proc/cpuinfo`), empty where unknown."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def accelerators():
    """`(tpus, gpu compute capabilities)` that TensorFlow sees."""
    import tensorflow as tf

    tpus = len(tf.config.list_physical_devices("TPU"))
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability", (0, 0))))
    return tpus, capabilities


def auto_precision():
    """`(policy, why)`: `mixed_bfloat16` where the device does bfloat16 matrix work fast (a TPU,
    a GPU of compute capability 8.0 or more, a CPU with AMX-BF16), else `float32`."""
    tpus, capabilities = accelerators()
    if tpus:
        return "mixed_bfloat16", f"{tpus} TPU core(s): bfloat16 matrix units"
    if capabilities:
        if all(c >= (8, 0) for c in capabilities):
            lowest = min(capabilities)
            return "mixed_bfloat16", f"GPU compute capability {lowest[0]}.{lowest[1]} >= 8.0"
        return "float32", f"a GPU of compute capability {min(capabilities)} < 8.0: no fast bfloat16"
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "mixed_bfloat16", f"CPU with AMX-BF16 ({cpu_model()})"
    if "avx512_bf16" in flags:
        # Measured on a 2-core AMD EPYC with AVX512-BF16 (docs/speed.md): bfloat16 ran tfgen's
        # DCGANs 1.5-1.7x faster, short of AMX's 2x; auto stays float32 there, by design.
        return "float32", (
            f"CPU without AMX-BF16 ({cpu_model()}); its AVX512-BF16 runs bfloat16 somewhat "
            "faster: ask for it with --precision mixed_bfloat16"
        )
    return (
        "float32",
        f"CPU without AMX-BF16 or AVX512-BF16 ({cpu_model()}): no bfloat16 matrix instructions",
    )
