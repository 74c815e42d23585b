"""float32 against mixed bfloat16, model by model, measured side by side in one process.

    TFGEN_DATA_DIR=../shared/data python benchmarks/benchmark_precision.py             # ~8 min
    TFGEN_DATA_DIR=../shared/data python benchmarks/benchmark_precision.py --rows dcgan_mnist
    python benchmarks/benchmark_precision.py --out docs/benchmarks/precision.md

Each row is a recipe (a zoo entry's, or a kind's recipe moved to the 64x64 emoji), built as
`tfgen train --config` builds it: its dataset pipeline, its networks, its batch size. The row
builds the model twice, once under each dtype policy, and times the compiled Keras train
function of both in alternating blocks of steps; each side's fastest block is its figure (other
processes only slow blocks down), so every ratio compares two figures taken in the same run.

Beside the step times: the float ops of one step (the TF profiler's count, as in
`benchmark.py`) over the step time, as a share of this chip's float32 and bfloat16 matmul peaks
(the best `tf.matmul` of n x n, n = 512 to 2048, in each format, measured in the same run).
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmark.py, run from anywhere

# row -> (recipe file, overrides): the zoo's colour entries as trained, the other kinds' zoo
# recipes moved to the emoji at 64x64, and DCGAN at 28x28 (the grey reference point).
ROWS = {
    "dcgan_mnist": ("dcgan_mnist", ["train.batch_size=64"]),
    "dcgan_emoji": ("dcgan_emoji_google", []),
    "wgan_gp_emoji": ("wgan_gp_fashion_mnist", ['data.dataset="emoji_google"']),
    "cgan_emoji": ("cgan_mnist", ['data.dataset="emoji_google"']),
    "vae_emoji": ("vae_mnist", ['data.dataset="emoji_google"', "train.validation_images=0"]),
    "pix2pix_emoji": ("pix2pix_emoji_google2twitter", []),
    "cyclegan_emoji": ("cyclegan_emoji_google_twitter", []),
}
PRECISIONS = ("float32", "mixed_bfloat16")


def build(row, precision, data_dir):
    """(model, dataset, recipe) of `row` under `precision`, as the training job builds them."""
    import keras

    from tfgen import config, distribute, registry
    from tfgen.training import job
    from tfgen.training.inputs import make_dataset

    name, overrides = ROWS[row]
    recipe = config.load(
        ROOT / "recipes" / f"{name}.toml", [*overrides, f'train.precision="{precision}"']
    )
    keras.utils.set_random_seed(0)
    d, t = recipe.data, recipe.train
    model_cls = registry.get_model_class(recipe.kind)
    ds = make_dataset(
        model_cls=model_cls, dataset=d.dataset, batch_size=t.batch_size, seed=0,
        image_size=d.image_size, channels=d.channels, data_dir=data_dir, limit=d.limit,
        task=d.task, options=recipe.options, dataset_b=d.dataset_b, target=d.target,
        background=d.background,
    )  # fmt: skip
    model = job._new_model(
        model_cls, ds, d.task, recipe.options, {}, 10_000, distribute.get_strategy(t.strategy),
        t.precision, t.jit, 0, recipe.optimizer,
    )  # fmt: skip
    return model, ds, recipe


def train_function(model, ds):
    iterator = iter(ds.repeat())
    model.make_train_function()
    return model.train_function, iterator


def timed_block(function, iterator, steps):
    start = time.perf_counter()
    for _ in range(steps):
        logs = function(iterator)
    next(iter(logs.values())).numpy()
    return (time.perf_counter() - start) / steps


def measure(row, data_dir, blocks, block_s):
    import benchmark

    sides = {}
    for p in PRECISIONS:
        model, ds, recipe = build(row, p, data_dir)
        function, iterator = train_function(model, ds)
        for _ in range(3):  # trace, compile, warm the pools
            timed_block(function, iterator, 1)
        element_spec = ds.element_spec
        sides[p] = dict(model=model, function=function, iterator=iterator, spec=element_spec)
    # Block length: about block_s of the slower side's steps.
    one = max(timed_block(s["function"], s["iterator"], 1) for s in sides.values())
    steps = max(2, int(block_s / one))
    best = {p: float("inf") for p in PRECISIONS}
    for _ in range(blocks):
        for p in PRECISIONS:
            best[p] = min(best[p], timed_block(sides[p]["function"], sides[p]["iterator"], steps))
    try:
        flops = benchmark.profiled_flops(sides["float32"]["model"], sides["float32"]["spec"])
    except Exception:  # a step the profiler cannot trace on its own (e.g. the classifier's)
        flops = None
    first = sides["float32"]["spec"]
    first = first[0] if isinstance(first, tuple) else first
    return dict(
        row=row,
        recipe=ROWS[row][0],
        kind=recipe.kind,
        shape="x".join(str(int(v)) for v in first.shape[1:]),
        batch=recipe.train.batch_size,
        ms={p: best[p] * 1e3 for p in PRECISIONS},
        flops=flops,
        steps_per_block=steps,
    )


def table(results, peaks):
    lines = [
        "| row (recipe) | kind | image | batch | float32 ms/step | bfloat16 ms/step | "
        "bf16 speed-up | GFLOP/step | fp32 % of fp32 peak | bf16 % of bf16 peak |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f32, bf16 = r["ms"]["float32"], r["ms"]["mixed_bfloat16"]
        if r["flops"]:
            gflop = r["flops"] / 1e9
            share32 = f"{100 * gflop / (f32 / 1e3) / peaks['float32']:.0f}"
            share16 = f"{100 * gflop / (bf16 / 1e3) / peaks['bfloat16']:.0f}"
            gflop = f"{gflop:.2f}"
        else:
            gflop = share32 = share16 = "-"
        lines.append(
            f"| {r['row']} ({r['recipe']}) | {r['kind']} | {r['shape']} | {r['batch']} | "
            f"{f32:.0f} | {bf16:.0f} | **{f32 / bf16:.2f}x** | {gflop} | {share32} | {share16} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"comma-separated: {', '.join(ROWS)}"
    )
    parser.add_argument("--blocks", type=int, default=3, help="timed blocks per side")
    parser.add_argument("--block-seconds", type=float, default=4.0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")

    from tfgen import hardware

    chip = hardware.describe()
    print(f"chip: {chip}", flush=True)
    from benchmark import matmul_peak_gflops

    peaks = {p: matmul_peak_gflops(repeats=20, dtype=p) for p in ("float32", "bfloat16")}
    print(
        f"matmul peak: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 {peaks['bfloat16']:.0f} "
        f"GFLOP/s ({peaks['bfloat16'] / peaks['float32']:.1f}x)",
        flush=True,
    )
    results = []
    for row in rows:
        start = time.time()
        r = measure(row, args.data_dir, args.blocks, args.block_seconds)
        results.append(r)
        print(
            f"{row}: float32 {r['ms']['float32']:.0f} ms/step, bfloat16 "
            f"{r['ms']['mixed_bfloat16']:.0f} ms/step, "
            f"{r['ms']['float32'] / r['ms']['mixed_bfloat16']:.2f}x ({time.time() - start:.0f} s)",
            flush=True,
        )
    text = table(results, peaks)
    print(text)
    if args.out:
        header = (
            f"# float32 vs mixed bfloat16 training steps\n\nchip: {chip}\n\n"
            f"matmul peak: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 "
            f"{peaks['bfloat16']:.0f} GFLOP/s\n\n"
            f"`python benchmarks/benchmark_precision.py --rows {','.join(rows)}`\n\n"
        )
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(header + text + "\n")


if __name__ == "__main__":
    main()
