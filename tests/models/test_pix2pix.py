"""Tests for `tfgen.models.Pix2Pix`, the U-Net and `tfgen.data.paired`: shapes, losses, which
weights move, round trips, paired data and tasks, `translate` and the CLI."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgen import cli, training
from tfgen.data import paired
from tfgen.errors import TfgenUsageError
from tfgen.models.pix2pix import Pix2Pix
from tfgen.networks.unet import build_unet
from tfgen.registry import MODEL_KINDS


def tiny(**kwargs):
    kwargs.setdefault("g_width", 4)
    kwargs.setdefault("d_width", 4)
    return Pix2Pix(**kwargs)


def random_images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def values(variables):
    return [v.numpy().copy() for v in variables]


def softplus(x):
    return np.logaddexp(0.0, x)


# ------------------------------------------------------------------------ networks
@pytest.mark.parametrize(
    "shape,out_channels,levels", [((28, 28, 1), 1, 2), ((32, 32, 1), 3, 5), ((64, 64, 3), 3, 6)]
)
def test_unet_shapes_and_levels(shape, out_channels, levels):
    unet = build_unet(shape, out_channels, width=4)
    assert unet.output_shape == (None, *shape[:2], out_channels)
    downs = [
        layer for layer in unet.layers if layer.name.endswith("_conv") and "down" in layer.name
    ]
    assert len(downs) == levels
    skips = [layer for layer in unet.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(skips) == levels  # levels - 1 encoder skips + the full-resolution input skip
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in unet.layers)


def test_unet_rejects_sizes_it_cannot_halve():
    with pytest.raises(TfgenUsageError, match=r"divisible by 8.*n_downsamples <= 2"):
        build_unet((28, 28, 1), n_downsamples=3)
    with pytest.raises(TfgenUsageError, match="sides must be even, got 27x27"):
        build_unet((27, 27, 1))


def test_skip_connections_carry_the_input():
    # With the input skip, the last conv sees the input pixels directly.
    unet = build_unet((28, 28, 1), width=4)
    assert unet.get_layer("input_skip").input[1] is unet.inputs[0]


# ------------------------------------------------------------------------ model
def test_registered_with_interface():
    assert MODEL_KINDS["pix2pix"] is Pix2Pix and Pix2Pix.kind == "pix2pix"
    model = tiny(image_shape=(32, 32, 1), output_channels=3)
    assert model.input_shape_ == (32, 32, 1) and model.output_shape_ == (32, 32, 3)
    assert model.discriminator.input_shape == (None, 32, 32, 4)  # input and output on channels
    assert model.translate(random_images(2, (32, 32, 1))).shape == (2, 32, 32, 3)
    with pytest.raises(TfgenUsageError, match="translate"):
        model.generate(4)


def test_losses_match_hand_computed_values():
    model = tiny(l1_weight=100.0)
    model.compile()
    inputs, targets, outputs = (random_images(2, seed=s) for s in (1, 2, 3))
    out = model.losses_for(inputs, targets, outputs, training=False)
    real = model.discriminator(np.concatenate([inputs, targets], -1)).numpy().reshape(2, -1)
    fake = model.discriminator(np.concatenate([inputs, outputs], -1)).numpy().reshape(2, -1)
    l1 = np.abs(targets - outputs).reshape(2, -1).mean(axis=1)
    adversarial = softplus(-fake).mean(axis=1)  # non-saturating, averaged over the patches
    np.testing.assert_allclose(out["l1"], l1, rtol=1e-5)
    np.testing.assert_allclose(out["g_adversarial"], adversarial, rtol=1e-5)
    np.testing.assert_allclose(out["g_loss"], adversarial + 100.0 * l1, rtol=1e-5)
    expected_d = softplus(-real).mean(axis=1) + softplus(fake).mean(axis=1)
    np.testing.assert_allclose(out["d_loss"], expected_d, rtol=1e-5)


def test_train_step_logs_the_losses_of_its_forward_pass():
    model = tiny(dropout=0.0)  # no dropout noise: the forward pass can be reproduced
    model.compile()
    inputs, targets = tf.constant(random_images(4, seed=4)), tf.constant(random_images(4, seed=5))
    outputs = model.generator(inputs, training=True)
    expected = model.losses_for(inputs, targets, outputs, training=True)
    logs = model.train_step((inputs, targets))
    for key in ("d_loss", "g_loss", "l1", "g_adversarial"):
        np.testing.assert_allclose(float(logs[key]), np.mean(expected[key]), rtol=1e-4)


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_phase_moves_only_its_own_network(frozen):
    model = tiny()
    zero = keras.optimizers.Adam(0.0)
    model.compile(
        g_optimizer=zero if frozen == "generator" else None,
        d_optimizer=zero if frozen == "discriminator" else None,
    )
    networks = {"generator": model.generator, "discriminator": model.discriminator}
    before = {k: values(n.trainable_variables) for k, n in networks.items()}
    model.train_step((tf.constant(random_images(4, seed=6)), tf.constant(random_images(4, seed=7))))
    for name, network in networks.items():
        moved = [
            not np.array_equal(b, v.numpy())
            for b, v in zip(before[name], network.trainable_variables)
        ]
        assert (not any(moved)) if name == frozen else all(moved)


def test_fit_and_evaluate():
    model = tiny()
    model.compile()
    x, y = random_images(8, seed=8), random_images(8, seed=9)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1
    assert set(history.history) == {"d_loss", "g_loss", "g_adversarial", "l1"}
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert {"psnr", "l1"} <= set(logs)
    with pytest.raises(TfgenUsageError, match="targets of shape"):
        model.train_step((tf.constant(x), tf.constant(random_images(8, (28, 28, 3)))))


def test_config_and_keras_round_trips_give_identical_outputs(tmp_path):
    model = tiny(task="superres", l1_weight=50.0, d_normalization="batch")
    model.compile()
    x = random_images(4, seed=10)
    model.fit(x, random_images(4, seed=11), batch_size=4, epochs=1, verbose=0)
    expected = model.translate(x)
    clone = Pix2Pix.from_config(model.get_config())
    assert clone.task == "superres" and clone.task_options == {"factor": 4, "upsample": "nearest"}
    assert clone.l1_weight == 50.0
    path = tmp_path / "pix2pix.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Pix2Pix)
    np.testing.assert_array_equal(loaded.translate(x), expected)
    assert int(loaded.g_optimizer.iterations) == 1


def test_translate_prepares_raw_inputs():
    model = tiny(task="superres")
    full = random_images(3, seed=12)
    low = paired.downsample(full, 4).numpy()
    upsampled = paired.superres_inputs(full, 4, "nearest").numpy()
    np.testing.assert_array_equal(model.translate(low), model.translate(upsampled))
    as_uint8 = np.round((upsampled + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(
        model.translate(as_uint8), model.translate(as_uint8 / 127.5 - 1.0), atol=1e-6
    )
    assert model.translate(upsampled[0]).shape == (1, 28, 28, 1)  # one [H, W, C] image
    with pytest.raises(TfgenUsageError, match=r"\(28, 28, 1\) or low-resolution images of 7x7"):
        model.translate(random_images(1, (14, 14, 1)))
    with pytest.raises(TfgenUsageError, match=r"\[-1, 1\]"):
        model.translate(upsampled * 3.0)


# ------------------------------------------------------------------------ paired data
def test_superres_input_is_the_block_mean_repeated():
    images = random_images(2, seed=13)
    blocks = images.reshape(2, 7, 4, 7, 4, 1).mean(axis=(2, 4))
    expected = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)
    inputs, targets = paired.make_pairs(images, "superres")
    np.testing.assert_allclose(inputs.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(targets.numpy(), images)


def test_inpaint_masks_one_square_per_image():
    images = random_images(5, seed=14)
    inputs, _ = paired.make_pairs(images, "inpaint", seed=(1, 2), options={"mask_size": 9})
    inputs = inputs.numpy()
    for x, image in zip(inputs, images):
        masked = x[..., 0] != image[..., 0]
        rows, cols = np.nonzero(masked)
        assert masked.sum() == 81 and np.ptp(rows) == 8 and np.ptp(cols) == 8
        assert np.all(x[masked] == 0.0)
    again, _ = paired.make_pairs(images, "inpaint", seed=(1, 2), options={"mask_size": 9})
    np.testing.assert_array_equal(again.numpy(), inputs)  # same seed, same masks


def test_colorize_and_task_errors():
    rgb = random_images(2, (8, 8, 3), seed=15)
    inputs, targets = paired.make_pairs(rgb, "colorize")
    np.testing.assert_allclose(
        inputs.numpy()[..., 0], rgb @ np.array([0.2989, 0.587, 0.114], np.float32), atol=1e-3
    )
    assert targets.shape == (2, 8, 8, 3)
    with pytest.raises(TfgenUsageError, match="colorize needs colour.*superres or inpaint"):
        paired.make_pairs(random_images(2), "colorize")
    with pytest.raises(TfgenUsageError, match="divisible by 3"):
        paired.resolve_task_options("superres", (28, 28, 1), {"factor": 3})
    with pytest.raises(TfgenUsageError, match=r"unknown superres option\(s\) \['scale'\]"):
        paired.resolve_task_options("superres", (28, 28, 1), {"scale": 2})
    with pytest.raises(TfgenUsageError, match="unknown task"):
        paired.resolve_task_options("deblur")


def write_pngs(folder, arrays, names):
    folder.mkdir(parents=True)
    for array, name in zip(arrays, names):
        Image.fromarray(array).save(folder / f"{name}.png")


def test_paired_folders_match_by_name(tmp_path):
    rng = np.random.default_rng(16)
    grey = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    colour = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    write_pngs(tmp_path / "pairs" / "input", grey, ["b", "a", "c"])
    write_pngs(tmp_path / "pairs" / "target", colour, ["b", "a", "c"])
    x, y, names = paired.load_paired_folders(tmp_path / "pairs/input", tmp_path / "pairs/target")
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(x[0, ..., 0], grey[1])  # "a"
    np.testing.assert_array_equal(y[0], colour[1])
    ds = paired.load(tmp_path / "pairs", batch_size=3, shuffle=False)
    inputs, targets = next(iter(ds))
    assert inputs.shape == (3, 8, 8, 1) and targets.shape == (3, 8, 8, 3)
    assert training.options_from_data(Pix2Pix, ds) == {"output_channels": 3}
    Image.fromarray(grey[0]).save(tmp_path / "pairs" / "input" / "d.png")
    with pytest.raises(TfgenUsageError, match=r"1 image\(s\) have no partner.*d"):
        paired.load_paired_folders(tmp_path / "pairs/input", tmp_path / "pairs/target")
    with pytest.raises(TfgenUsageError, match="not a paired folder"):
        paired.load(tmp_path / "pairs" / "input")


def test_training_dataset_for_a_task(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, x=np.random.default_rng(17).integers(0, 256, (8, 28, 28), dtype=np.uint8))
    ds = training.make_dataset(Pix2Pix, str(path), 4, 0, task="superres")
    inputs, targets = next(iter(ds))
    assert inputs.shape == targets.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(
        inputs.numpy(), paired.superres_inputs(targets, 4).numpy(), atol=1e-6
    )
    assert training.options_from_data(Pix2Pix, ds, "superres") == {
        "output_channels": 1,
        "task": "superres",
    }


def test_cli_train_translate_and_errors(tmp_path, capsys):
    path = tmp_path / "images.npz"
    np.savez(path, x=np.random.default_rng(18).integers(0, 256, (8, 28, 28), dtype=np.uint8))
    out = tmp_path / "run"
    args = ["train", "pix2pix", "--dataset", str(path), "--task", "superres", "--steps", "1"]
    args += ["--batch-size", "4", "--option", "g_width=4", "--option", "d_width=4"]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert (out / "samples" / "epoch_001.png").exists()
    model_file = str(out / "model.keras")
    low = np.random.default_rng(19).integers(0, 256, (3, 7, 7, 1), dtype=np.uint8)
    np.save(tmp_path / "low.npy", low)
    assert (
        cli.main(
            [
                "translate",
                model_file,
                "--input",
                str(tmp_path / "low.npy"),
                "--out",
                str(tmp_path / "hi.npy"),
            ]
        )
        == 0
    )
    hi = np.load(tmp_path / "hi.npy")
    assert hi.shape == (3, 28, 28, 1) and hi.dtype == np.uint8
    write_pngs(tmp_path / "folder", low[..., 0], ["x", "y", "z"])
    assert (
        cli.main(
            [
                "translate",
                model_file,
                "--input",
                str(tmp_path / "folder"),
                "--out",
                str(tmp_path / "hi.png"),
            ]
        )
        == 0
    )
    # Three rows of input (7x7, shown at 28x28) | output, with 2-pixel gaps.
    assert np.asarray(Image.open(tmp_path / "hi.png")).shape[:2] == (3 * 30 + 2, 2 * 30 + 2)
    assert cli.main(["sample", model_file, "--out", str(tmp_path / "s.png")]) == 2
    assert "translate" in capsys.readouterr().err
    colorize = ["train", "pix2pix", "--dataset", str(path), "--task", "colorize", "--steps", "1"]
    assert cli.main([*colorize, "--batch-size", "4", "--out", str(tmp_path / "c")]) == 2
    assert "colorize needs colour" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "train",
                "dcgan",
                "--dataset",
                str(path),
                "--task",
                "superres",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
    assert "dcgan does not take one" in capsys.readouterr().err
