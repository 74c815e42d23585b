"""Benchmarks a model's exports: batch-1 latency of TFLite vs the Keras call vs the SavedModel,
file sizes, output differences, and (for the zoo) int8's quality change in FID/KID.

    TFGEN_DATA_DIR=../shared/data python benchmarks/benchmark_export.py dcgan_mnist

Prints markdown tables. For a zoo entry it records the figures in the entry's card.json under
`tflite` (`tfgen.zoo.update_card`); `--rest-example` also prints a TF Serving REST `:predict`
request and the response, computed by running the exported SavedModel's signature.
"""

import argparse
import json
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen import export, registry, saving, zoo  # noqa: E402
from tfgen.export import tflite  # noqa: E402


def median_latencies(candidates, rounds, calls):
    """{name: per-call seconds} per round; rounds interleave the candidates, so load from
    other processes on a shared machine falls on all of them alike."""
    times = {name: [] for name in candidates}
    for fn in candidates.values():  # warm-up: tracing, allocation, XNNPACK packing
        for _ in range(5):
            fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def tflite_runner(interpreter, z):
    runner = interpreter.get_signature_runner("serving_default")
    return lambda: runner(z=z)["images"]


def tflite_samples(interpreter, z):
    runner = interpreter.get_signature_runner("serving_default")
    return np.concatenate([runner(z=z[i : i + 1])["images"] for i in range(len(z))])


def quality(samples, args):
    """FID/KID of each sample set against the MNIST test split, or None without tfgen.evaluation."""
    try:
        from tfgen.evaluation.evaluate import evaluate_samples
    except ImportError:
        return None
    from tfgen.data import load_arrays

    local = load_arrays(args.dataset, split="test", data_dir_override=args.data_dir)
    if local is None:
        raise SystemExit(f"{args.dataset} not found: pass --data-dir or set TFGEN_DATA_DIR")
    real, _ = local
    return {
        name: evaluate_samples(images, real, metrics=("fid", "kid"), dataset=args.dataset)
        for name, images in samples.items()
    }


def rest_example(export_dir, signature="generate", inputs=None):
    """(request, response) JSON of TF Serving's REST API for one signature call.

    The response holds what running the SavedModel's signature returns, in the columnar form
    TF Serving answers a columnar (`"inputs"`) request with.
    """
    inputs = inputs or {"batch_size": 1, "seed": 42}
    loaded = tf.saved_model.load(str(export_dir))
    function = loaded.signatures[signature]
    specs = function.structured_input_signature[1]
    outputs = function(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})
    request = {"signature_name": signature, "inputs": inputs}
    response = {"outputs": {k: v.numpy().tolist() for k, v in sorted(outputs.items())}}
    return request, response


def show_rest_example(export_dir, name):
    request, response = rest_example(export_dir)
    print("\n## TF Serving REST example\n")
    print(f"POST http://localhost:8501/v1/models/{name}:predict\n")
    print("```json\n" + json.dumps(request) + "\n```\n")
    # The float image (784 values) is summarized; the uint8 image is printed in full, one
    # image row per line, so the digit shows in the numbers.
    images = np.asarray(response["outputs"]["images"], np.float32)
    rows = np.asarray(response["outputs"]["images_uint8"])[0, :, :, 0]
    body = ",\n".join(
        "      [" + ", ".join(f"[{v:3d}]" for v in row) + "]" for row in rows.tolist()
    )
    first = ", ".join(repr(float(v)) for v in images[0, 0, :3, 0])
    print("Response (`images` abridged: shape " + str(list(images.shape)) + "):\n")
    print(
        '```json\n{\n  "outputs": {\n'
        f'    "images": [[[[{first.replace(", ", "], [")}], ...]]],\n'
        '    "images_uint8": [[\n' + body + "\n    ]]\n  }\n}\n```"
    )
    full = pathlib.Path(tempfile.gettempdir()) / f"{name}_rest_response.json"
    full.write_text(json.dumps(response) + "\n")
    print(f"\n(full response: {full})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="dcgan_mnist", help="zoo name or .keras file")
    parser.add_argument("--dataset", default="mnist", help="real images for FID/KID (test split)")
    parser.add_argument("--samples", type=int, default=2000, help="images per FID/KID sample set")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20, help="calls per round and runtime")
    parser.add_argument("--representative", type=int, default=200)
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    parser.add_argument("--no-card", action="store_true", help="do not update the zoo card")
    parser.add_argument("--rest-example", action="store_true")
    args = parser.parse_args(argv)

    model = saving.load_model(args.model, compile=False)
    work = pathlib.Path(tempfile.mkdtemp(prefix="benchmark_export."))
    export_dir = export.saved_model(model, work / "savedmodel")
    loaded = tf.saved_model.load(str(export_dir))
    serve = loaded.signatures["serving_default"]
    files = {}
    for quantize in tflite.QUANTIZATIONS:
        files[quantize] = work / f"model_{quantize}.tflite"
        tflite.convert(
            model, files[quantize], quantize=quantize, num_representative=args.representative
        )
    interpreters = {q: tflite.interpreter(path) for q, path in files.items()}

    z1 = np.random.default_rng(0).standard_normal((1, model.latent_dim)).astype(np.float32)
    z1_tensor = tf.constant(z1)
    candidates = {
        "Keras call": lambda: model.generator(z1_tensor, training=False),
        "SavedModel (tf.saved_model.load)": lambda: serve(z=z1_tensor)["images"],
        **{f"TFLite {q}": tflite_runner(interpreters[q], z1) for q in tflite.QUANTIZATIONS},
    }
    times = median_latencies(candidates, args.rounds, args.calls)
    keras_ms = 1e3 * float(np.median(times["Keras call"]))

    z = np.random.default_rng(1).standard_normal((64, model.latent_dim)).astype(np.float32)
    reference = model.generator(z, training=False).numpy()
    differences = {"SavedModel (tf.saved_model.load)": serve(z=tf.constant(z))["images"].numpy()}
    differences.update({f"TFLite {q}": tflite_samples(interpreters[q], z) for q in interpreters})
    sizes = {f"TFLite {q}": files[q].stat().st_size for q in files}
    float_size = sizes["TFLite none"]

    print(f"## {args.model}: batch-1 latency, {os.cpu_count()} CPU cores, TF {tf.__version__}\n")
    print("| runtime | median ms | p90 ms | speed-up vs Keras call | size | max abs diff |")
    print("|---|---:|---:|---:|---:|---:|")
    report = {}
    for name, per_call in times.items():
        median = 1e3 * float(np.median(per_call))
        p90 = 1e3 * float(np.percentile(per_call, 90))
        diff = float(np.abs(differences[name] - reference).max()) if name in differences else 0.0
        size = sizes.get(name)
        size_text = f"{size:,} B ({size / float_size:.0%})" if size else ""
        print(
            f"| {name} | {median:.3f} | {p90:.3f} | {keras_ms / median:.1f}x | {size_text} | "
            f"{diff:.2e} |"
        )
        report[name] = {"median_ms": round(median, 4), "speedup_vs_keras": keras_ms / median}
        report[name]["max_abs_diff"] = diff
        if size:
            report[name]["bytes"] = size

    z_eval = np.random.default_rng(2).standard_normal((args.samples, model.latent_dim))
    z_eval = z_eval.astype(np.float32)
    scores = quality(
        {
            "keras": model.generator.predict(z_eval, batch_size=256, verbose=0),
            "tflite_float32": tflite_samples(interpreters["none"], z_eval),
            "tflite_int8": tflite_samples(interpreters["int8"], z_eval),
        },
        args,
    )
    if scores:
        print(f"\n## Quality: {args.samples} samples vs the {args.dataset} test split\n")
        print("| samples | FID | KID |\n|---|---:|---:|")
        for name, values in scores.items():
            print(f"| {name} | {values['fid']:.3f} | {values['kid']:.5f} |")
    else:
        print("\n(tfgen.evaluation is not importable: no FID/KID)")

    is_zoo = not str(args.model).endswith(".keras") and registry.zoo_path(args.model).is_dir()
    if is_zoo and not args.no_card:
        card = {
            "files_bytes": {q: sizes[f"TFLite {q}"] for q in tflite.QUANTIZATIONS},
            "int8_size_ratio": round(sizes["TFLite int8"] / float_size, 4),
            "max_abs_diff_vs_keras": {
                q: float(f"{report[f'TFLite {q}']['max_abs_diff']:.3g}")
                for q in tflite.QUANTIZATIONS
            },
            "batch1_latency_ms": {k: v["median_ms"] for k, v in report.items()},
            "speedup_vs_keras_call": {
                k: round(v["speedup_vs_keras"], 2) for k, v in report.items() if k != "Keras call"
            },
            "int8_io": "float32 inputs and outputs, int8 weights and activations",
            "batch_size": 1,
            "measured_on": f"{os.cpu_count()} CPU cores, TF {tf.__version__}",
            "command": "python benchmarks/benchmark_export.py " + str(args.model),
        }
        if scores:
            card["quality"] = {
                "samples": args.samples,
                "real": f"{args.dataset} test split",
                **{
                    name: {k: round(float(v), 5) for k, v in values.items()}
                    for name, values in scores.items()
                },
            }
        zoo.update_card(args.model, tflite=card)
        print(f"\nrecorded under 'tflite' in {registry.zoo_path(args.model) / 'card.json'}")

    if args.rest_example:
        show_rest_example(export_dir, args.model)


if __name__ == "__main__":
    main()
