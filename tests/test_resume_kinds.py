"""Resume for every kind: a run stopped mid-epoch at step 9 and started again from its step
checkpoint ends with every variable (weights, optimizer slots, pools, schedules, EMA)
bit-identical to an uninterrupted run. DCGAN's SIGKILL version is tests/test_resume.py."""

import json

import pytest

# One fresh process per kind: op determinism is process-wide. Epochs of 6 steps, 12 steps in
# all, a checkpoint every 3 steps; run B raises at the end of step 9 (inside epoch 2).
PROGRAM = r"""
import json, pathlib, sys
import keras, numpy as np
import tfgen
from tfgen import config, saving
from tfgen.training import job

out, recipe_json = pathlib.Path(sys.argv[1]), sys.argv[2]

class Crash(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, 0
    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt("stopped for the test")

def run(folder, crash_at=None):
    recipe = config.from_dict(json.loads(recipe_json))
    extra = [Crash(crash_at)] if crash_at else []
    job.run(recipe, folder, verbose=0, extra_callbacks=extra)

def state(path):
    model = saving.load_model(path, compile=True)
    variables = list(model.weights)
    for name in sorted(vars(model)):
        value = getattr(model, name, None)
        if isinstance(value, keras.optimizers.Optimizer):
            variables += list(value.variables)
    # In order: two loads in one process number their optimizers' paths apart.
    return [(v.path, keras.ops.convert_to_numpy(v.value)) for v in variables]

run(out / "a")
try:
    run(out / "b", crash_at=9)
except KeyboardInterrupt:
    pass
assert not (out / "b" / "model.keras").exists()
run(out / "b")
a, b = state(out / "a" / "model.keras"), state(out / "b" / "model.keras")
different = [pa for (pa, va), (pb, vb) in zip(a, b) if not np.array_equal(va, vb)]
same = len(a) == len(b) and all(va.shape == vb.shape for (_, va), (_, vb) in zip(a, b))
print(json.dumps({"variables": len(a), "same_names": same,
                  "different": different[:5],
                  "steps": json.loads((out / "b" / "run.json").read_text())["steps"]}))
"""

TRAIN = {"steps": 12, "checkpoint_every": 3, "deterministic": True, "seed": 3, "samples": 4}
RECIPES = {
    "dcgan": {"model": {"kind": "dcgan", "g_width": 8, "d_width": 8, "ema": 0.9},
              "data": {"dataset": "mnist", "limit": 48}, "train": {**TRAIN, "batch_size": 8}},
    "wgan_gp": {"model": {"kind": "wgan_gp", "g_width": 8, "d_width": 8, "n_critic": 2},
                "data": {"dataset": "mnist", "limit": 96}, "train": {**TRAIN, "batch_size": 16}},
    "cgan": {"model": {"kind": "cgan", "g_width": 8, "d_width": 8, "augment": "ada"},
             "data": {"dataset": "mnist", "limit": 48}, "train": {**TRAIN, "batch_size": 8}},
    "pix2pix": {"model": {"kind": "pix2pix", "g_width": 4, "d_width": 4},
                "data": {"dataset": "mnist", "limit": 48, "task": "superres"},
                "train": {**TRAIN, "batch_size": 8}},
    "cyclegan": {"model": {"kind": "cyclegan", "g_width": 2, "d_width": 2, "pool_size": 4,
                           "n_residual_blocks": 0, "n_downsamples": 1},
                 "data": {"dataset": "mnist", "dataset_b": "mnist", "halves": True,
                          "invert_b": True, "limit": 24, "image_size": 8},
                 "train": {**TRAIN, "batch_size": 2}},
    "vae": {"model": {"kind": "vae", "width": 4, "latent_dim": 4},
            "data": {"dataset": "mnist", "limit": 48}, "train": {**TRAIN, "batch_size": 8}},
}  # fmt: skip


@pytest.mark.large
@pytest.mark.parametrize("kind", sorted(RECIPES))
def test_stopped_mid_epoch_and_resumed_is_bit_identical(kind, tmp_path, run_program, data_dir,
                                                        monkeypatch):  # fmt: skip
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    result = json.loads(
        run_program(PROGRAM, tmp_path, json.dumps(RECIPES[kind])).strip().splitlines()[-1]
    )
    assert result["same_names"] and result["variables"] > 10
    assert result["different"] == [], f"{kind}: resumed run differs in {result['different']}"
    assert result["steps"] == 12


@pytest.mark.large
def test_finetuning_stopped_mid_epoch_and_resumed_is_bit_identical(tmp_path, run_program,
                                                                   data_dir, monkeypatch):  # fmt: skip
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    source = RECIPES["dcgan"]
    run_program(PROGRAM.split("run(out / \"a\")")[0] + "run(out / 'source')\n", tmp_path,
                json.dumps({**source, "train": {**source["train"], "steps": 3}}))  # fmt: skip
    recipe = {**source, "data": {"dataset": "fashion_mnist", "limit": 48},
              "finetune": {"source": str(tmp_path / "source" / "model.keras"), "freeze_d": 1}}  # fmt: skip
    del recipe["model"]
    result = json.loads(run_program(PROGRAM, tmp_path, json.dumps(recipe)).strip().splitlines()[-1])
    assert result["different"] == [] and result["steps"] == 12
