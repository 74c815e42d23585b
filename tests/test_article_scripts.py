"""The article's section 4 examples (examples/) run end to end (`--quick`) on the real data."""

import math
import runpy
import sys

import numpy as np
import pytest

from tests.conftest import ROOT


def run_example(name, *argv):
    """Runs examples/<name>.py top to bottom as `python examples/<name>.py ARGV` does, and
    returns the names it defined (a literate example keeps its results in module globals)."""
    path = ROOT / "examples" / f"{name}.py"
    saved = sys.argv
    sys.argv = [str(path), *argv]
    try:
        return runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved


@pytest.fixture(autouse=True)
def _local_data(monkeypatch, data_dir):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))


def test_4_1_gan_trains_and_saves_samples(tmp_path):
    result = run_example(
        "article_4_1_gan",
        "--quick",
        "--loss",
        "least_squares",
        "--out",
        str(tmp_path / "samples.png"),
    )
    assert result["samples"].stat().st_size > 0
    assert result["model"].loss_name == "least_squares"
    assert all(math.isfinite(v[-1]) for v in result["history"].values())


def test_4_2_vae_reports_consistent_elbo_terms(tmp_path):
    result = run_example("article_4_2_vae", "--quick", "--out", str(tmp_path))
    for terms in (result["before"], result["after"]):
        assert terms["elbo"] == pytest.approx(terms["reconstruction_log_likelihood"] - terms["kl"])
        # 3.2.3: the Bernoulli reconstruction term is the binary cross-entropy.
        assert terms["binary_cross_entropy"] == pytest.approx(
            -terms["reconstruction_log_likelihood"], rel=1e-4
        )
        assert terms["kl"] >= 0
    assert (tmp_path / "reconstructions.png").exists() and (tmp_path / "samples.png").exists()


@pytest.mark.parametrize("loss", ["least_squares", "cross_entropy", "wasserstein"])
def test_4_3_hand_written_update_matches_keras_sgd(loss):
    result = run_example("article_4_3_gradient_descent", "--quick", "--loss", loss)
    assert result["max_difference"] <= 1e-6
    assert result["moved"] > 1e-4  # the parameters did move, so agreeing means something
    assert len(result["losses_by_step"]) == 3
    # The rule itself, on numbers small enough to check by hand: 1 - 0.1 * 2 = 0.8.
    (updated,) = result["update_parameters"]([np.float32(1.0)], 0.1, [np.float32(2.0)])
    assert updated == pytest.approx(0.8)


def test_4_4_transfer_keeps_frozen_layers_bit_identical(tmp_path):
    from tfgen import transfer

    result = run_example("article_4_4_transfer", "--quick", "--source", "", "--out", str(tmp_path))
    before = result["pretrained_weights"]
    after = {k: w.numpy() for k, w in transfer.weights_by_path(result["model"]).items()}
    unchanged = {k for k in before if np.array_equal(before[k], after[k])}
    # freeze_d=1 and freeze_g=1: the discriminator's block0 and the generator's stem.
    assert unchanged == {
        "discriminator/block0_conv/kernel",
        "discriminator/block0_conv/bias",
        "generator/project/kernel",
        "generator/project_bn/gamma",
        "generator/project_bn/beta",
        "generator/project_bn/moving_mean",
        "generator/project_bn/moving_variance",
    }
    assert (tmp_path / "before.png").exists() and (tmp_path / "after.png").exists()
