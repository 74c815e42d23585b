"""tfgen.transfer: layer selection, freezing through fit, FreezeD, progressive unfreezing,
per-block learning rates, loading tfgen SavedModels, and `tfgen finetune`."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, export, training, transfer
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN, CycleGAN


def tiny_dcgan(seed=0):
    return DCGAN(latent_dim=8, g_width=8, d_width=8, seed=seed)


@pytest.fixture(scope="module")
def images(mnist_test_arrays):
    x, _ = mnist_test_arrays
    return (x[:32].astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def weights_by_path(model):
    """{"generator/block0_conv/kernel": array, ...} for every weight of every leaf layer."""
    return {k: w.numpy().copy() for k, w in transfer.weights_by_path(model).items()}


def changed(before, after):
    return {k for k in before if not np.array_equal(before[k], after[k])}


def fit(model, images, epochs=1, callbacks=None):
    model.fit(images, batch_size=32, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)


# ----------------------------------------------------------------------------- selection
def test_layer_paths_walk_the_sub_networks():
    model = tiny_dcgan()
    paths = transfer.layer_paths(model)
    assert paths[0] == "generator/project"
    assert "discriminator/block0_conv" in paths and "generator/block0_conv" in paths
    assert paths[-1] == "discriminator/logit"


def test_selection_by_names_regex_slice_container_and_all():
    model = tiny_dcgan()
    assert transfer.freeze(model, ["discriminator/block0_conv", "to_image"]) == [
        "generator/to_image",
        "discriminator/block0_conv",
    ]
    transfer.unfreeze(model)
    assert transfer.frozen_layers(model) == []
    assert transfer.freeze(model, r"generator/block\d_bn") == [
        "generator/block0_bn",
        "generator/block1_bn",
    ]
    assert transfer.freeze(model, re.compile(r".*_lrelu")) == [
        "discriminator/block0_lrelu",
        "discriminator/block1_lrelu",
    ]
    assert transfer.freeze(model, slice(0, 2)) == ["generator/project", "generator/project_bn"]
    transfer.unfreeze(model, "all")
    frozen = transfer.freeze(model, ["discriminator"])
    assert frozen == [p for p in transfer.layer_paths(model) if p.startswith("discriminator/")]
    assert model.discriminator.trainable_weights == []
    assert len(model.generator.trainable_weights) == 11


def test_selection_errors_say_what_to_do():
    model = tiny_dcgan()
    with pytest.raises(TfgenUsageError, match="ambiguous.*pass the full path"):
        transfer.freeze(model, ["block0_conv"])
    with pytest.raises(TfgenUsageError, match="has no layer 'nope'.*trainable_summary"):
        transfer.freeze(model, ["nope"])
    with pytest.raises(TfgenUsageError, match="matches no layer"):
        transfer.freeze(model, "block9_.*")
    with pytest.raises(TfgenUsageError, match="a list of names, a regular expression"):
        transfer.freeze(model, 3)
    with pytest.raises(TfgenUsageError, match="has 3 blocks.*nothing to train.*at most 2"):
        transfer.freeze_discriminator_blocks(model, 3)


def test_trainable_summary_counts():
    model = tiny_dcgan()
    transfer.freeze(model, ["discriminator/logit"])
    lines = []
    counts = transfer.trainable_summary(model, print_fn=lines.append)
    # logit: Dense(7*7*16 -> 1) = 784 + 1 parameters, now non-trainable
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert counts["trainable_params"] == trainable
    assert counts["non_trainable_params"] == total - trainable
    assert counts["frozen_layers"] == 1
    assert "FROZEN" in next(line for line in lines[0].splitlines() if "logit" in line)


def test_network_blocks_of_the_dcgan_networks():
    model = tiny_dcgan()
    g_blocks = [name for name, _ in transfer.network_blocks(model.generator)]
    d_blocks = transfer.network_blocks(model.discriminator)
    assert g_blocks == ["stem", "block0", "block1", "head"]
    assert d_blocks == [
        ("block0", ["block0_conv", "block0_lrelu"]),
        ("block1", ["block1_conv", "block1_norm", "block1_lrelu"]),
        ("head", ["flatten", "logit"]),
    ]


# ----------------------------------------------------------------------------- through fit
def test_frozen_weights_and_batchnorm_statistics_stay_bit_identical_through_fit(images):
    model = tiny_dcgan()
    frozen = transfer.apply_recipe(model, freeze_d=1, freeze_g=2)
    assert "generator/block0_bn" in frozen and "discriminator/block0_conv" in frozen
    model.compile()
    before = weights_by_path(model)
    fit(model, images)
    moved = changed(before, weights_by_path(model))
    frozen_weights = {k for k in before if k.rsplit("/", 1)[0] in frozen}
    assert frozen_weights and not moved & frozen_weights
    # The frozen BatchNormalization layers ran in inference mode: statistics untouched...
    assert "generator/block0_bn/moving_mean" in frozen_weights
    # ...while the trainable ones kept updating theirs, and every trainable weight moved.
    assert {"generator/block1_bn/moving_mean", "discriminator/block1_norm/moving_variance"} <= moved
    trainable = {
        f"{p}/{w.name}"
        for p, layer, _ in transfer.layers._walk(model)
        for w in layer.trainable_weights
    }
    assert trainable <= moved


def test_freeze_after_compile_takes_effect_and_keeps_the_optimizer_state(images):
    model = tiny_dcgan()
    model.compile()
    fit(model, images)
    iterations = int(model.g_optimizer.iterations)
    d_vars = model.discriminator.trainable_variables
    logit_kernel = next(v for v in d_vars if v.path == "logit/kernel")
    index = next(i for i, v in enumerate(d_vars) if v is logit_kernel)
    momentum = model.d_optimizer._momentums[index].numpy()
    transfer.freeze_discriminator_blocks(model, 2)  # recompiles: the model was compiled
    assert int(model.g_optimizer.iterations) == iterations
    new_vars = model.discriminator.trainable_variables
    assert [v.path for v in new_vars] == ["logit/kernel", "logit/bias"]
    np.testing.assert_array_equal(model.d_optimizer._momentums[0].numpy(), momentum)
    before = weights_by_path(model)
    fit(model, images)
    moved = changed(before, weights_by_path(model))
    assert not {k for k in moved if k.startswith("discriminator/block")}
    assert "discriminator/logit/kernel" in moved


def test_unfreezing_makes_layers_train_again(images):
    model = tiny_dcgan()
    transfer.freeze(model, r"discriminator/block.*")
    model.compile()
    before = weights_by_path(model)
    fit(model, images)
    moved = changed(before, weights_by_path(model))
    assert not {k for k in moved if k.startswith("discriminator/block")}
    transfer.unfreeze(model, ["discriminator/block1_norm"])
    before = weights_by_path(model)
    fit(model, images)
    moved = changed(before, weights_by_path(model))
    assert {k for k in moved if k.startswith("discriminator/block")} == {
        "discriminator/block1_norm/gamma",
        "discriminator/block1_norm/beta",
        "discriminator/block1_norm/moving_mean",
        "discriminator/block1_norm/moving_variance",
    }


def test_progressive_unfreezing_releases_the_block_nearest_the_output_first(images):
    model = tiny_dcgan()
    transfer.apply_recipe(model, freeze_d=2)
    model.compile()
    callback = transfer.ProgressiveUnfreezing(every=1)
    before = weights_by_path(model)
    # Epoch 1 (the second) releases block1, epoch 2 block0.
    fit(model, images, epochs=2, callbacks=[callback])
    moved = changed(before, weights_by_path(model))
    assert "discriminator/block1_conv/kernel" in moved
    assert "discriminator/block0_conv/kernel" not in moved
    assert transfer.frozen_layers(model) == [
        "discriminator/block0_conv",
        "discriminator/block0_lrelu",
    ]
    # A later fit continues the plan: its epoch 2 releases block0.
    model.fit(
        images[:32], batch_size=32, initial_epoch=2, epochs=3, verbose=0, callbacks=[callback]
    )
    assert transfer.frozen_layers(model) == []


def test_block_learning_rates_scale_each_update(images):
    def one_step(decay):
        keras.utils.set_random_seed(7)
        model = tiny_dcgan()
        # Eagerly: the callback works the same either way, and it skips two traces.
        model.compile(
            g_optimizer=keras.optimizers.SGD(0.1),
            d_optimizer=keras.optimizers.SGD(0.1),
            run_eagerly=True,
        )
        before = weights_by_path(model)
        callbacks = [transfer.BlockLearningRates(decay)] if decay else []
        model.fit(images[:32], batch_size=32, epochs=1, verbose=0, callbacks=callbacks)
        after = weights_by_path(model)
        return {k: after[k] - before[k] for k in before}

    plain, scaled = one_step(None), one_step(0.5)
    # The discriminator's blocks from the output: head x1, block1 x0.5, block0 x0.25.
    for key, factor in [
        ("discriminator/logit/kernel", 1.0),
        ("discriminator/block1_conv/kernel", 0.5),
        ("discriminator/block0_conv/kernel", 0.25),
        ("generator/to_image/kernel", 1.0),
        ("generator/project/kernel", 0.125),
    ]:
        np.testing.assert_allclose(scaled[key], factor * plain[key], rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- loading
def test_a_tfgen_savedmodel_round_trips_into_a_trainable_model(tmp_path, images):
    model = tiny_dcgan()
    target = export.saved_model(model, tmp_path / "export")
    loaded = transfer.load_for_finetuning(target)
    assert isinstance(loaded, DCGAN)
    z = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.generator(z, training=False).numpy(), model.generator(z, training=False).numpy()
    )
    transfer.freeze_discriminator_blocks(loaded, 1)
    loaded.compile(run_eagerly=True)
    before = weights_by_path(loaded)
    loaded.fit(images[:32], batch_size=32, epochs=1, verbose=0)
    moved = changed(before, weights_by_path(loaded))
    assert "generator/block0_conv/kernel" in moved and "discriminator/logit/kernel" in moved
    assert "discriminator/block0_conv/kernel" not in moved


def test_a_savedmodel_from_elsewhere_gets_a_clear_error(tmp_path):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "plain"))
    with pytest.raises(
        TfgenUsageError, match="cannot fine-tune.*tfgen did not export.*tfgen export"
    ):
        transfer.load_for_finetuning(tmp_path / "plain")


def test_recompile_needs_a_compiled_model():
    with pytest.raises(TfgenUsageError, match="not compiled"):
        transfer.recompile(tiny_dcgan())


# ----------------------------------------------------------------------------- CLI
def test_cli_finetune_writes_a_run_folder_with_frozen_layers_untouched(tmp_path, data_dir):
    source = tmp_path / "source.keras"
    model = tiny_dcgan()
    model.save(source)
    out = tmp_path / "run"
    code = cli.main(
        [
            "finetune",
            str(source),
            "--dataset",
            "fashion_mnist",
            "--data-dir",
            str(data_dir),
            "--limit",
            "64",
            "--batch-size",
            "32",
            "--steps",
            "2",
            "--freeze-d",
            "1",
            "--freeze-g",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    before, after = weights_by_path(model), weights_by_path(tuned)
    moved = changed(before, after)
    assert not {k for k in moved if k.startswith(("discriminator/block0_", "generator/project"))}
    assert "discriminator/block1_conv/kernel" in moved and "generator/block0_conv/kernel" in moved
    run = json.loads((out / "run.json").read_text())
    assert run["steps"] == 2 and run["freeze_d"] == 1
    assert (out / "samples" / "epoch_001.png").exists()


def test_a_gan_with_an_ema_generator_has_one_path_per_layer_and_its_average_stays_frozen():
    # The EMA copy is a clone named "generator": walked as a layer, it gave every generator
    # path a second layer, and freeze_g found the copy instead of the generator.
    model = DCGAN(latent_dim=8, g_width=8, d_width=8, ema=0.99)
    paths = transfer.layer_paths(model)
    assert len(paths) == len(set(paths)) == len(transfer.layer_paths(tiny_dcgan()))
    frozen = transfer.apply_recipe(model, freeze_d=1, freeze_g=1)
    assert "generator/project" in frozen and "discriminator/block0_conv" in frozen
    assert not model.ema_generator.trainable and not model.ema_generator.trainable_weights


def test_cli_finetune_of_the_zoo_entry_itself(tmp_path, data_dir):
    # The documented command: the zoo's dcgan_mnist keeps an EMA generator (trained with --ema).
    out = tmp_path / "ft"
    argv = ["finetune", "dcgan_mnist", "--dataset", "fashion_mnist", "--data-dir", str(data_dir)]
    argv += ["--freeze-g", "1", "--steps", "2", "--batch-size", "16", "--limit", "32"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    source = transfer.load_for_finetuning("dcgan_mnist")
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    moved = changed(weights_by_path(source), weights_by_path(tuned))
    assert moved and not {k for k in moved if k.startswith("generator/project")}
    assert "generator/block0_conv/kernel" in moved
    run = json.loads((out / "run.json").read_text())
    assert run["source"] == "dcgan_mnist" and run["steps"] == 2
    assert "generator/project" in run["frozen_at_start"]


def test_cli_finetune_refuses_freeze_d_on_too_few_blocks(tmp_path, data_dir, capsys):
    source = tmp_path / "source.keras"
    tiny_dcgan().save(source)
    code = cli.main(
        ["finetune", str(source), "--dataset", "fashion_mnist", "--data-dir", str(data_dir)]
        + ["--freeze-d", "5", "--steps", "1", "--out", str(tmp_path / "run")]
    )
    assert code == 2
    assert "freeze_d=5 but discriminator has 3 blocks" in capsys.readouterr().err


def test_cli_finetune_of_a_cyclegan_takes_domain_b_its_learning_rate_and_freeze_d(
    tmp_path, tiny_cyclegan_cli
):
    _, argv = tiny_cyclegan_cli  # writes a.npz and b.npz (8x8 images) in tmp_path
    source = tmp_path / "source.keras"
    options = dict(g_width=2, d_width=2, n_residual_blocks=0, n_downsamples=1)
    model = CycleGAN(image_shape=(8, 8, 1), **options)
    model.save(source)
    out = tmp_path / "run"
    # Domains swapped: the translator is adapted to the other direction.
    args = ["finetune", str(source), "--dataset", str(tmp_path / "b.npz")]
    args += ["--dataset-b", str(tmp_path / "a.npz"), "--batch-size", "2", "--steps", "2"]
    assert cli.main(args + ["--learning-rate", "1e-4", "--freeze-d", "1", "--out", str(out)]) == 0
    tuned = keras.saving.load_model(out / "model.keras")
    rates = [
        float(keras.ops.convert_to_numpy(opt.learning_rate))
        for opt in (tuned.g_a2b_optimizer, tuned.g_b2a_optimizer)
        + (tuned.d_a_optimizer, tuned.d_b_optimizer)
    ]
    np.testing.assert_allclose(rates, 1e-4, rtol=1e-6)
    moved = changed(weights_by_path(model), weights_by_path(tuned))
    for d in ("discriminator_a", "discriminator_b"):
        assert not {k for k in moved if k.startswith(f"{d}/block0_")}
        assert {k for k in moved if k.startswith(d)}
    assert {k for k in moved if k.startswith("generator_a2b/")}
    assert list((out / "samples").glob("*.png"))


def test_a_finetune_recipe_schedule_decays_over_the_finetune_from_its_first_step(
    tmp_path, data_dir
):
    from tfgen import config
    from tfgen.transfer.finetuning import finetune_recipe

    source = tmp_path / "source.keras"
    tiny_dcgan().save(source)

    def recipe(optimizer, train=None):
        return config.from_dict({
            "finetune": {"source": str(source)},
            "data": {"dataset": "fashion_mnist", "limit": 32},
            "train": {"steps": 4, "batch_size": 16, **(train or {})},
            "optimizer": optimizer,
        })  # fmt: skip

    cosine = {"learning_rate": 1e-3, "schedule": "cosine"}
    model = finetune_recipe(recipe(cosine), tmp_path / "run", verbose=0, data_dir=data_dir)
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert int(optimizer.iterations) == 4
        schedule = optimizer._learning_rate  # counted from the fine-tune's step 0, not the source's
        assert float(schedule(0)) == pytest.approx(1e-3)
        assert float(schedule(2)) == pytest.approx(5e-4)
        assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)  # at its end
    with pytest.raises(TfgenUsageError, match="only optimizer.learning_rate and optimizer.sched"):
        finetune_recipe(recipe({"beta_1": 0.9}), tmp_path / "beta", data_dir=data_dir)
    with pytest.raises(TfgenUsageError, match="spans the fine-tune: set train.steps"):
        finetune_recipe(
            recipe(cosine, {"steps": None, "epochs": 1}), tmp_path / "epochs", data_dir=data_dir
        )
    assert not (tmp_path / "beta").exists() and not (tmp_path / "epochs").exists()


def test_a_cyclegan_finetune_refuses_a_schedule(tmp_path, tiny_cyclegan_cli):
    from tfgen import config
    from tfgen.transfer.finetuning import finetune_recipe

    source = tmp_path / "source.keras"
    CycleGAN(image_shape=(8, 8, 1), g_width=2, d_width=2, n_residual_blocks=0,
             n_downsamples=1).save(source)  # fmt: skip
    recipe = config.from_dict({
        "finetune": {"source": str(source)},
        "data": {"dataset": str(tmp_path / "a.npz"), "dataset_b": str(tmp_path / "b.npz")},
        "train": {"steps": 2, "batch_size": 2},
        "optimizer": {"learning_rate": 1e-4, "schedule": "cosine"},
    })  # fmt: skip
    with pytest.raises(TfgenUsageError, match="a CycleGAN's learning rate follows the run"):
        finetune_recipe(recipe, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run" / "model.keras").exists()


def test_finetuning_a_pix2pix_model_derives_pairs_for_its_own_task_or_a_new_one(tmp_path):
    from tfgen.models import Pix2Pix

    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", x=images)
    model = Pix2Pix(
        image_shape=(16, 16, 1), g_width=4, d_width=4, task="superres", task_options={"factor": 2}
    )
    model.save(tmp_path / "source.keras")
    # Its own task, with its own options: inputs made of 2x2 blocks (factor 2), not 4x4.
    args = training.inputs.data_for_model(model, tmp_path / "x.npz", 8, 0, None, None)
    inputs, _ = next(iter(training.make_dataset(**args)))
    inputs = inputs.numpy()
    np.testing.assert_array_equal(inputs, np.repeat(np.repeat(inputs[:, ::2, ::2], 2, 1), 2, 2))
    assert not np.array_equal(inputs, np.repeat(np.repeat(inputs[:, ::4, ::4], 4, 1), 4, 2))
    # Another task becomes the model's own, with its defaults for 16x16 images.
    out = tmp_path / "run"
    args = ["finetune", str(tmp_path / "source.keras"), "--dataset", str(tmp_path / "x.npz")]
    args += ["--task", "inpaint", "--batch-size", "4", "--steps", "1", "--out", str(out)]
    assert cli.main(args) == 0
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    assert (tuned.task, tuned.task_options) == ("inpaint", {"mask_size": 5, "fill": 0.0})
    assert changed(weights_by_path(model), weights_by_path(tuned))
    assert list((out / "samples").glob("*.png"))


# A fine-tune run that fails mid-epoch (after its step-8 checkpoint) and is run again must end
# where an uninterrupted run ends: same data order (the pipeline is re-made after the partial
# epoch), same unfreezing, same weights and optimizer slots. Op determinism is process-wide,
# hence a child process. 96 images in batches of 16: epochs of 6 steps, 18 steps in all.
FINETUNE_RESUME = """
import sys
import keras, numpy as np, tensorflow as tf
tf.config.experimental.enable_op_determinism()
from tfgen import saving, transfer

source, data_dir, tmp = sys.argv[1:4]

class FailAfter(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) == 9:
            raise RuntimeError("simulated crash")

def run(out, callbacks=()):
    return transfer.finetune(source, "fashion_mnist", f"{tmp}/{out}", freeze_d=2,
        unfreeze_every=1, steps=18, batch_size=16, limit=96, data_dir=data_dir, seed=3,
        checkpoint_every=2, verbose=0, callbacks=list(callbacks))

full = run("full")
try:
    run("resumed", [FailAfter()])
except RuntimeError as e:
    print("crashed:", e)
resumed = run("resumed")

def state(model):
    variables = list(model.weights) + list(model.g_optimizer.variables)
    variables += list(model.d_optimizer.variables)
    return [keras.ops.convert_to_numpy(v.value) for v in variables]

print("steps", int(resumed.g_optimizer.iterations), "frozen", transfer.frozen_layers(resumed))
a, b = state(full), state(resumed)
print("variables", len(a), len(b))
print("different", [i for i, (x, y) in enumerate(zip(a, b)) if not np.array_equal(x, y)])
"""


def test_finetune_resumed_mid_epoch_ends_like_an_uninterrupted_run(tmp_path, data_dir, run_program):
    source = tmp_path / "source.keras"
    tiny_dcgan().save(source)
    stdout = run_program(FINETUNE_RESUME, source, data_dir, tmp_path)
    assert "crashed: simulated crash" in stdout
    assert "steps 18 frozen []" in stdout
    assert re.search(r"variables (\d+) \1\n", stdout), stdout
    assert "different []" in stdout, stdout
    run = json.loads((tmp_path / "resumed" / "run.json").read_text())
    assert run["steps"] == 18 and not (tmp_path / "resumed" / "checkpoints").exists()
