"""Tests for `tfgen.models.ConditionalGAN` and `tfgen.networks.cgan`: conditioning, labels,
updates, round trips, the data path and the CLI."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, losses, training
from tfgen.errors import TfgenUsageError
from tfgen.models.cgan import SALT_TRAIN, ConditionalGAN, as_labels
from tfgen.networks import cgan as cgan_networks
from tfgen.registry import MODEL_KINDS


def tiny(**kwargs):
    kwargs.setdefault("latent_dim", 8)
    kwargs.setdefault("g_width", 8)
    kwargs.setdefault("d_width", 8)
    kwargs.setdefault("embedding_dim", 4)
    return ConditionalGAN(**kwargs)


def random_images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def values(variables):
    return [v.numpy().copy() for v in variables]


def test_registered_and_needs_labels():
    assert MODEL_KINDS["cgan"] is ConditionalGAN
    assert ConditionalGAN.kind == "cgan" and ConditionalGAN.data_kind == "labelled"
    assert keras.saving.get_registered_name(ConditionalGAN) == "tfgen>ConditionalGAN"


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 1)])
def test_shapes(size, channels, conditioning):
    model = tiny(image_shape=(size, size, channels), conditioning=conditioning, num_classes=5)
    assert [tuple(i.shape) for i in model.generator.inputs] == [(None, 8), (None,)]
    assert model.generator.inputs[1].dtype == "int32"
    images = model.generate(labels=[0, 4, 2])
    assert images.shape == (3, size, size, channels)
    assert model.discriminator([images, np.array([0, 4, 2])]).shape == (3, 1)


def test_projection_logit_is_linear_head_plus_label_projection():
    d = cgan_networks.build_projection_discriminator((28, 28, 1), num_classes=3, width=8)
    images, labels = random_images(4, seed=1), np.array([0, 1, 2, 1], np.int32)
    trunk = keras.Model(d.inputs[0], d.get_layer("flatten").output)
    features = trunk(images, training=False).numpy()
    w, b = d.get_layer("logit").get_weights()
    embedding = d.get_layer("label_projection").get_weights()[0]
    expected = features @ w[:, 0] + b[0] + np.sum(embedding[labels] * features, axis=1)
    np.testing.assert_allclose(
        d([images, labels], training=False).numpy()[:, 0], expected, rtol=1e-4, atol=1e-5
    )


def test_generator_output_depends_on_the_label():
    model = tiny()
    z = np.repeat(np.random.default_rng(2).normal(size=(1, 8)).astype(np.float32), 2, axis=0)
    images = model.generate(z=z, labels=[3, 7])
    assert not np.allclose(images[0], images[1])


def test_as_labels_forms_and_errors():
    np.testing.assert_array_equal(as_labels(None, 3, n=7), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(as_labels(2, 3, n=4), [2, 2, 2, 2])
    np.testing.assert_array_equal(as_labels([1, 0], 3), [1, 0])
    np.testing.assert_array_equal(as_labels([1, 0], 3, n=5), [1, 0, 1, 0, 1])
    assert as_labels(np.array([2], np.int64), 3).dtype == np.int32
    with pytest.raises(TfgenUsageError, match=r"in \[0, 3\).*\[3\]"):
        as_labels([0, 3], 3)
    with pytest.raises(TfgenUsageError, match=r"\[-1\]"):
        as_labels(-1, 3, n=2)
    with pytest.raises(TfgenUsageError, match="integer class ids"):
        as_labels([0.5, 1.0], 3)
    with pytest.raises(TfgenUsageError, match="integer class ids"):
        as_labels("7", 10, n=1)
    with pytest.raises(TfgenUsageError, match="n >= 1"):
        as_labels(None, 3)


def test_generate_labels_and_seed():
    model = tiny()
    a = model.generate(6, labels=4, seed=3)
    b = model.generate(6, labels=[4] * 6, seed=3)
    np.testing.assert_array_equal(a, b)
    assert model.generate(10, seed=3).shape[0] == 10  # cycles through the classes
    with pytest.raises(TfgenUsageError, match=r"labels must be in \[0, 10\)"):
        model.generate(2, labels=10)
    with pytest.raises(TfgenUsageError, match="integer class ids"):
        model.generate(2, labels=np.array([1.0, 2.0]))


def test_losses_match_hand_computed_values():
    model = tiny()
    model.compile()
    real_logits = np.array([[2.0], [-1.0]], np.float32)
    fake_logits = np.array([[0.5], [-3.0]], np.float32)
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    _, d_loss = model._d_loss(real_logits, fake_logits)
    _, g_loss = model._g_loss(fake_logits)
    expected_d = np.mean(softplus(-real_logits) + softplus(fake_logits))
    np.testing.assert_allclose(float(d_loss), expected_d, rtol=1e-6)
    np.testing.assert_allclose(float(g_loss), np.mean(softplus(-fake_logits)), rtol=1e-6)


def test_train_step_logs_the_losses_of_its_forward_pass():
    model = tiny()
    model.compile()
    images, labels = tf.constant(random_images(4, seed=4)), tf.constant([0, 1, 2, 3])
    # The step's forward pass, reproduced before the update (same noise: seed, step, salt).
    z = model.training_noise(4, salt=SALT_TRAIN)
    fake = model.generator([z, labels], training=True)
    real_logits = model.discriminator([images, labels], training=True)
    fake_logits = model.discriminator([fake, labels], training=True)
    expected_d = np.mean(losses.non_saturating_discriminator_loss(real_logits, fake_logits))
    expected_g = np.mean(losses.non_saturating_generator_loss(fake_logits))
    logs = model.train_step((images, labels))
    np.testing.assert_allclose(float(logs["d_loss"]), expected_d, rtol=1e-4)
    np.testing.assert_allclose(float(logs["g_loss"]), expected_g, rtol=1e-4)


def test_one_fit_step_updates_each_network_with_its_own_optimizer():
    model = tiny()
    model.compile()
    g_before, d_before = (
        values(model.generator.trainable_variables),
        values(model.discriminator.trainable_variables),
    )
    model.fit(random_images(8, seed=5), np.arange(8) % 10, batch_size=8, epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1
    g_moved = [
        not np.array_equal(b, v.numpy())
        for b, v in zip(g_before, model.generator.trainable_variables)
    ]
    d_moved = [
        not np.array_equal(b, v.numpy())
        for b, v in zip(d_before, model.discriminator.trainable_variables)
    ]
    assert all(g_moved) and all(d_moved)
    # The label embeddings are trained too: the generator's and the projection's.
    paths = [
        v.path
        for v in model.generator.trainable_variables + model.discriminator.trainable_variables
    ]
    assert any("label_embedding" in p for p in paths) and any(
        "label_projection" in p for p in paths
    )


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_phase_moves_only_its_own_network(frozen):
    # With one optimizer's learning rate at 0, its network must not move at all: the other
    # phase's update never reaches it.
    model = tiny()
    optimizer = keras.optimizers.Adam(0.0) if frozen == "generator" else None
    other = keras.optimizers.Adam(0.0) if frozen == "discriminator" else None
    model.compile(g_optimizer=optimizer, d_optimizer=other)
    networks = {"generator": model.generator, "discriminator": model.discriminator}
    before = {k: values(n.trainable_variables) for k, n in networks.items()}
    model.train_step((tf.constant(random_images(4, seed=6)), tf.constant([1, 2, 3, 4])))
    for name, network in networks.items():
        moved = [
            not np.array_equal(b, v.numpy())
            for b, v in zip(before[name], network.trainable_variables)
        ]
        assert (not any(moved)) if name == frozen else all(moved)


def test_label_errors_in_train_step():
    model = tiny()
    model.compile()
    images = tf.constant(random_images(2))
    with pytest.raises(TfgenUsageError, match="integer class ids"):
        model.train_step((images, tf.constant([0.0, 1.0])))
    with pytest.raises(TfgenUsageError, match=r"\(images, labels\)"):
        model.train_step(images)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=10"):
        model.train_step((images, tf.constant([0, 12])))


def test_config_and_keras_round_trips_give_identical_outputs(tmp_path):
    model = tiny(num_classes=4, conditioning="concat", d_normalization="layer")
    model.compile()
    model.fit(random_images(4), np.array([0, 1, 2, 3]), batch_size=4, epochs=1, verbose=0)
    z = np.random.default_rng(7).normal(size=(4, 8)).astype(np.float32)
    labels = np.array([3, 2, 1, 0], np.int32)
    expected = model.generate(z=z, labels=labels)
    logits = model.discriminator([expected, labels]).numpy()

    clone = ConditionalGAN.from_config(model.get_config())
    assert (clone.num_classes, clone.conditioning, clone.d_normalization) == (4, "concat", "layer")

    path = tmp_path / "cgan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ConditionalGAN) and loaded.num_classes == 4
    np.testing.assert_array_equal(loaded.generate(z=z, labels=labels), expected)
    np.testing.assert_array_equal(loaded.discriminator([expected, labels]).numpy(), logits)
    assert int(loaded.g_optimizer.iterations) == 1


def test_data_path_checks_the_label_range(tmp_path):
    images = np.zeros((8, 28, 28), np.uint8)
    path = tmp_path / "digits.npz"
    np.savez(path, x=images, y=np.array([0, 1, 2, 3, 4, 5, 6, 11]))
    with pytest.raises(TfgenUsageError, match=r"labels in \[0, 11\].*num_classes=12"):
        training.make_dataset(ConditionalGAN, str(path), 4, 0, options={"num_classes": 10})
    ds = training.make_dataset(ConditionalGAN, str(path), 4, 0, options={"num_classes": 12})
    x, y = next(iter(ds))
    assert x.shape == (4, 28, 28, 1) and y.dtype == tf.int32
    with pytest.raises(TfgenUsageError, match="drop --task"):
        training.make_dataset(ConditionalGAN, str(path), 4, 0, task="superres")


def test_cli_trains_and_samples_labels(tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "train", "cgan", "--dataset", str(mnist_dir), "--steps", "1", "--batch-size", "8",
            "--option", "g_width=8", "--option", "d_width=8", "--option", "latent_dim=8",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    model_file = str(out / "model.keras")
    assert (
        cli.main(
            ["sample", model_file, "--label", "3", "--n", "5", "--out", str(tmp_path / "a.npy")]
        )
        == 0
    )
    assert np.load(tmp_path / "a.npy").shape == (5, 28, 28, 1)
    assert (
        cli.main(
            [
                "sample",
                model_file,
                "--labels",
                "0,1,2",
                "--n",
                "6",
                "--out",
                str(tmp_path / "b.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "b.png").exists()
    assert cli.main(["sample", model_file, "--label", "10", "--out", str(tmp_path / "c.png")]) == 2
    assert "labels must be in [0, 10)" in capsys.readouterr().err
    assert (
        cli.main(["sample", model_file, "--labels", "1,x", "--out", str(tmp_path / "c.png")]) == 2
    )
    assert "comma-separated integers" in capsys.readouterr().err
