"""A recipe file and the equivalent flags are one run: `tfgen train --config
recipes/dcgan_mnist.toml --set train.steps=200` and `tfgen train dcgan --dataset mnist ...`
end with the same weights, bit for bit."""

import keras
import numpy as np
import pytest

from tfgen import saving

RECIPE = "recipes/dcgan_mnist.toml"
# recipes/dcgan_mnist.toml as flags; its piecewise rate (2e-4, then 5e-5 from step 8000) is
# 2e-4 throughout 200 steps, the DCGAN's default.
FLAGS = ["dcgan", "--dataset", "mnist", "--ema", "0.999", "--r1", "2",
         "--option", "g_width=32", "--option", "d_width=64", "--option", "latent_components=50",
         "--option", "latent_scale=1.0", "--steps", "200", "--deterministic"]  # fmt: skip


@pytest.mark.large
def test_recipe_and_flags_train_the_same_weights(tmp_path, data_dir, run_program):
    root = saving.__file__.rsplit("/tfgen/", 1)[0]
    program = (
        "import sys\nfrom tfgen.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )  # fmt: skip
    run_program(program, "train", "--config", f"{root}/{RECIPE}", "--set", "train.steps=200",
                "--set", "train.deterministic=true", "--data-dir", data_dir,
                "--out", tmp_path / "a")  # fmt: skip
    run_program(program, "train", *FLAGS, "--data-dir", data_dir, "--out", tmp_path / "b")
    a = saving.load_model(tmp_path / "a" / "model.keras", compile=False)
    b = saving.load_model(tmp_path / "b" / "model.keras", compile=False)
    assert len(a.weights) == len(b.weights) > 20
    for va, vb in zip(a.weights, b.weights):
        assert np.array_equal(keras.ops.convert_to_numpy(va), keras.ops.convert_to_numpy(vb)), (
            va.path
        )
