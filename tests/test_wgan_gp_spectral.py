"""WGAN-GP with a spectrally normalized critic (`WGANGP(spectral_norm=True)`, `--spectral-norm`)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, losses
from tfgen.errors import TfgenUsageError
from tfgen.models import WGANGP
from tfgen.saving import load_model


def tiny(**kwargs):
    kwargs.setdefault("latent_dim", 8)
    kwargs.setdefault("g_width", 8)
    kwargs.setdefault("d_width", 8)
    kwargs.setdefault("n_critic", 2)
    return WGANGP(**kwargs)


def real_images(mnist_test_arrays, n=64):
    """The first `n` real MNIST test digits scaled to [-1, 1]."""
    images = mnist_test_arrays[0][:n].astype(np.float32)
    return images / 127.5 - 1.0


def sn_layers(critic):
    return [x for x in critic.layers if isinstance(x, keras.layers.SpectralNormalization)]


def largest_singular_value(layer):
    """Numpy's largest singular value of the kernel reshaped to [fan_in, out], as Keras does."""
    kernel = layer.kernel.numpy()
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


def power_iteration_estimate(layer):
    """sigma = v W u^T from the layer's stored vector u (one step of Keras's power iteration)."""
    kernel = layer.kernel.numpy()
    weights = kernel.reshape(-1, kernel.shape[-1])
    u = layer.vector_u.numpy()
    v = u @ weights.T
    v /= np.linalg.norm(v)
    return float((v @ weights @ u.T).item())


def test_spectral_norm_replaces_the_critics_layer_norm():
    model = tiny(spectral_norm=True)
    names = [x.__class__.__name__ for x in model.critic.layers]
    assert names.count("SpectralNormalization") == 3  # two convs and the logit
    assert "LayerNormalization" not in names and "BatchNormalization" not in names
    config = model.get_config()
    assert config["spectral_norm"] is True and config["critic_normalization"] == "none"
    plain = tiny()
    assert "spectral_norm" not in plain.get_config()
    assert plain.critic_normalization == "layer" and not sn_layers(plain.critic)
    with pytest.raises(TfgenUsageError, match="cannot be combined with spectral_norm"):
        tiny(spectral_norm=True, critic_normalization="layer")


def test_fit_keeps_the_critic_kernels_at_spectral_norm_one(mnist_test_arrays):
    model = tiny(spectral_norm=True, seed=1)
    model.compile()
    model.critic(np.zeros((1, 28, 28, 1), np.float32))  # build, no normalization yet
    initial = [largest_singular_value(x) for x in sn_layers(model.critic)]
    initial_u = [x.vector_u.numpy().copy() for x in sn_layers(model.critic)]
    # Glorot-initialised kernels are not normalized: the check below can fail.
    assert max(abs(s - 1.0) for s in initial) > 0.1, initial
    history = model.fit(real_images(mnist_test_arrays), batch_size=16, epochs=1, verbose=0)
    for name in ("critic_loss", "g_loss", "gradient_penalty", "wasserstein"):
        assert np.isfinite(history.history[name]).all(), (name, history.history)
    for layer, u0 in zip(sn_layers(model.critic), initial_u):
        sigma = largest_singular_value(layer)
        estimate = power_iteration_estimate(layer)
        assert sigma == pytest.approx(1.0, abs=0.02), (layer.name, sigma, initial)
        assert estimate == pytest.approx(sigma, rel=0.01), (layer.name, estimate, sigma)
        assert not np.allclose(layer.vector_u.numpy(), u0)  # u is trained state: it moved


def test_gradient_penalty_backprops_through_the_wrapper(mnist_test_arrays):
    # Keras's wrapper divides the kernel by sigma in place, then runs the plain layer, so the
    # penalty's double backward pass through it must equal a plain critic's on the normalized
    # kernels (up to the ~1e-6 re-normalization that each extra training call applies).
    model = tiny(spectral_norm=True, seed=2)
    plain = tiny(critic_normalization="none", seed=2).critic
    real = tf.constant(real_images(mnist_test_arrays, n=8))
    fake = model.generator(tf.random.normal([8, 8], seed=3), training=False)
    weights = tf.random.uniform([8], seed=4)
    for _ in range(30):  # converge u so that later calls leave the kernels as they are
        model.critic(real, training=True)
    plain.set_weights([v.numpy() for v in model.critic.weights if not v.path.endswith("vector_u")])

    def penalty_grads(critic):
        with tf.GradientTape() as tape:
            penalty = losses.gradient_penalty(
                lambda x: critic(x, training=True), real, fake, weights
            )
            loss = tf.reduce_mean(penalty)
        return loss, tape.gradient(loss, critic.trainable_variables)

    loss_sn, grads_sn = penalty_grads(model.critic)
    loss_plain, grads_plain = penalty_grads(plain)
    assert np.isfinite(float(loss_sn)) and float(loss_sn) > 0
    assert float(loss_sn) == pytest.approx(float(loss_plain), rel=1e-4)
    assert len(grads_sn) == len(grads_plain) == 6  # kernel and bias of two convs and the logit
    for g_sn, g_plain, var in zip(grads_sn, grads_plain, model.critic.trainable_variables):
        if g_sn is None or g_plain is None:
            # The logit's bias does not reach the input gradient: None for both critics.
            assert g_sn is None and g_plain is None and var.path.endswith("bias"), var.path
            continue
        assert np.isfinite(g_sn.numpy()).all(), var.path
        np.testing.assert_allclose(g_sn.numpy(), g_plain.numpy(), rtol=1e-3, atol=1e-6)
        if var.path.endswith("kernel"):
            # (A bias moves a piecewise-linear critic's input gradient only where a unit
            # switches sides, so its penalty gradient may be exactly 0.)
            assert float(tf.reduce_max(tf.abs(g_sn))) > 0, var.path
    for layer in sn_layers(model.critic):
        assert np.isfinite(layer.vector_u.numpy()).all()


def test_keras_round_trip_keeps_outputs_and_the_power_iteration_state(tmp_path, mnist_test_arrays):
    model = tiny(spectral_norm=True, seed=5)
    model.compile()
    model.fit(real_images(mnist_test_arrays, n=32), batch_size=16, epochs=1, verbose=0)
    clone = WGANGP.from_config(model.get_config())
    assert clone.spectral_norm and len(sn_layers(clone.critic)) == 3
    path = tmp_path / "wgan_gp_sn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.spectral_norm and loaded.critic_normalization == "none"
    for a, b in zip(sn_layers(model.critic), sn_layers(loaded.critic)):
        np.testing.assert_array_equal(a.vector_u.numpy(), b.vector_u.numpy())
    x = real_images(mnist_test_arrays, n=4)
    z = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.critic(x, training=False).numpy(), model.critic(x, training=False).numpy()
    )
    np.testing.assert_array_equal(
        loaded.generator(z, training=False).numpy(), model.generator(z, training=False).numpy()
    )
    # The next training-mode pass (one power iteration from the saved u) is the same too.
    np.testing.assert_array_equal(
        loaded.critic(x, training=True).numpy(), model.critic(x, training=True).numpy()
    )
    for a, b in zip(sn_layers(model.critic), sn_layers(loaded.critic)):
        np.testing.assert_array_equal(a.vector_u.numpy(), b.vector_u.numpy())


# Two logical CPUs: the in-place kernel normalization and the u update run in replica context;
# they must leave both replicas' copies equal and train like one device.
REPLICAS_AGREE = (
    "spread = max(float(np.max(np.abs(v.value.values[0].numpy() - v.value.values[1].numpy())))"
    " for v in mirrored.critic.weights)\n"
    'print(json.dumps({"worst": worst(single.weights, mirrored.weights), "spread": spread, '
    '"single": logs_1["gradient_penalty"][0], "mirrored": logs_2["gradient_penalty"][0]}))'
)


def test_mirrored_spectral_norm_critic_matches_one_device(two_replica_run):
    result = two_replica_run(
        "WGANGP(latent_dim=8, g_width=8, d_width=8, n_critic=2, seed=3, spectral_norm=True)",
        lr=0.01,
        report=REPLICAS_AGREE,
    )
    assert result["spread"] == 0.0, result
    # As in tests/test_distribute.py: the double backward pass amplifies float rounding.
    assert result["worst"] < 1e-3, result
    assert np.isfinite(result["mirrored"]) and result["mirrored"] > 0, result
    assert abs(result["single"] - result["mirrored"]) < 1e-4 * abs(result["single"]), result


def test_cli_trains_wgan_gp_with_spectral_norm(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    out = tmp_path / "run"
    argv = ["train", "wgan_gp", "--dataset", "mnist", "--limit", "256", "--steps", "3"]
    small = ["--batch-size", "20", "--option", "g_width=8", "--option", "d_width=8"]
    assert cli.main([*argv, *small, "--spectral-norm", "--out", str(out)]) == 0, capsys
    model = load_model(str(out / "model.keras"), compile=False)
    assert model.spectral_norm and len(sn_layers(model.critic)) == 3
    for layer in sn_layers(model.critic):
        assert largest_singular_value(layer) == pytest.approx(1.0, abs=0.05), layer.name
    run = json.loads((out / "run.json").read_text())
    assert run["steps"] == 3
    for name in ("critic_loss", "g_loss", "gradient_penalty", "wasserstein"):
        assert np.isfinite(run["final_metrics"][name]), run["final_metrics"]
    capsys.readouterr()
    # Stacking the critic's layer norm on SN is refused in one line, before anything is written.
    bad = tmp_path / "bad"
    layer_norm = ["--option", "critic_normalization=layer"]
    assert cli.main([*argv, *small, *layer_norm, "--spectral-norm", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be combined with spectral_norm" in err[0], err
    assert not bad.exists()


def test_cli_spectral_norm_on_a_model_without_it_is_one_usage_line(
    tmp_path, data_dir, monkeypatch, capsys
):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    out = tmp_path / "vae"
    argv = ["train", "vae", "--dataset", "mnist", "--limit", "64", "--steps", "1"]
    assert cli.main([*argv, "--spectral-norm", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "unknown --option spectral_norm (--spectral-norm) for vae" in err[0], err
    assert "its options are" in err[0] and "Traceback" not in err[0]
    assert not out.exists()
