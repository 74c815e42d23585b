"""Latent interpolation and traversal grids (tfgen.latent) and `tfgen sample --interpolate/--traverse`."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfgen import cli, io, latent, saving
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN, VAE, ConditionalGAN


@pytest.fixture(scope="module")
def vae():
    return VAE(latent_dim=4, width=8)


@pytest.fixture(scope="module")
def dcgan():
    return DCGAN(latent_dim=6, g_width=8, d_width=8)


# ------------------------------------------------------------------------ paths
def test_slerp_keeps_unit_vectors_on_the_sphere(rng):
    a, b = rng.normal(size=(2, 5, 32))
    a /= np.linalg.norm(a, axis=-1, keepdims=True)
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    path = latent.slerp(a, b, np.linspace(0, 1, 11))
    assert path.shape == (11, 5, 32)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    # The straight line cuts inside the sphere: that is why GAN latents use slerp.
    assert np.all(np.linalg.norm(latent.lerp(a, b, [0.5])[0], axis=-1) < 0.95)


def test_slerp_norms_stay_between_the_endpoints(rng):
    a = rng.normal(size=64) * 2.0
    b = rng.normal(size=64) * 0.5
    norms = np.linalg.norm(latent.slerp(a, b, np.linspace(0, 1, 9)), axis=-1)
    low, high = sorted((np.linalg.norm(a), np.linalg.norm(b)))
    assert np.all(norms >= low - 1e-9) and np.all(norms <= high + 1e-9)
    assert np.all(np.diff(norms) < 0)  # length goes linearly from |a| down to |b|


def test_slerp_of_parallel_vectors_falls_back_to_a_line(rng):
    a = rng.normal(size=8)
    for b in (2.0 * a, -a):
        path = latent.slerp(a, b, np.linspace(0, 1, 5))
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(path, latent.lerp(a, b, np.linspace(0, 1, 5)), atol=1e-12)


# ------------------------------------------------------------------------ interpolation
# Decoding in batches of another size moves float32 outputs by round-off (oneDNN blocking), so
# images are compared to 1e-6; the latents themselves are compared exactly.
ROUND_OFF = 1e-6


def test_vae_interpolation_endpoints_decode_the_posterior_means(vae, mnist_test_arrays):
    images = mnist_test_arrays[0][:2].astype(np.float32) / 127.5 - 1.0
    # Each endpoint image is encoded on its own (a batch of one), as interpolation_grid does.
    means = np.concatenate([vae.encode(images[i : i + 1]).mean() for i in (0, 1)])
    z = latent.interpolation_latents(vae, images[0], images[1], steps=5)
    assert z.shape == (1, 5, 4)
    np.testing.assert_array_equal(z[0, [0, -1]], means)
    # The VAE path is linear in the posterior means.
    np.testing.assert_allclose(z[0, 2], means.mean(axis=0), atol=1e-6)
    grid = latent.interpolation_grid(vae, images[0], images[1], steps=5)
    assert grid.shape == (1, 5, 28, 28, 1)
    np.testing.assert_allclose(grid[0, [0, -1]], vae.generate(z=means), atol=ROUND_OFF)
    np.testing.assert_allclose(grid[0], vae.generate(z=z[0]), atol=ROUND_OFF)


def test_gan_interpolation_endpoints_are_the_seeds_samples(dcgan):
    z = latent.interpolation_latents(dcgan, 3, 7, steps=6)
    np.testing.assert_array_equal(z[0, 0], dcgan.latent_noise(1, 3)[0])
    np.testing.assert_array_equal(z[0, -1], dcgan.latent_noise(1, 7)[0])
    norms = np.linalg.norm(z[0], axis=-1)
    assert np.all(norms >= norms[[0, -1]].min() - 1e-5)  # slerp: no dip inside the shell
    grid = latent.interpolation_grid(dcgan, 3, 7, steps=6)
    assert grid.shape == (1, 6, 28, 28, 1)
    np.testing.assert_allclose(grid[0, 0], dcgan.generate(1, seed=3)[0], atol=ROUND_OFF)
    np.testing.assert_allclose(grid[0, -1], dcgan.generate(1, seed=7)[0], atol=ROUND_OFF)
    assert not np.allclose(grid[0, 2], grid[0, 3])  # the inner columns move
    rows = latent.interpolation_grid(dcgan, [1, 2], [3, 4], steps=4)
    assert rows.shape == (2, 4, 28, 28, 1)
    np.testing.assert_allclose(rows[1, -1], dcgan.generate(1, seed=4)[0], atol=ROUND_OFF)


def test_cgan_interpolation_keeps_the_label():
    model = ConditionalGAN(latent_dim=8, g_width=8, d_width=8)
    grid = latent.interpolation_grid(model, 0, 1, steps=3, label=4)
    z = latent.prior_latents(model, [0])
    np.testing.assert_allclose(grid[0, 0], model.generate(z=z, labels=4)[0], atol=ROUND_OFF)
    assert not np.allclose(grid, latent.interpolation_grid(model, 0, 1, steps=3, label=5))


def test_models_without_latents_and_bad_arguments_are_refused(dcgan, vae):
    from tfgen.models import Pix2Pix

    with pytest.raises(TfgenUsageError, match="no latent space"):
        latent.interpolation_grid(Pix2Pix(g_width=8, d_width=8), 0, 1)
    with pytest.raises(TfgenUsageError, match="steps must be >= 2"):
        latent.interpolation_grid(dcgan, 0, 1, steps=1)
    with pytest.raises(TfgenUsageError, match="cannot encode images"):
        latent.interpolation_grid(dcgan, np.zeros((28, 28, 1)), np.zeros((28, 28, 1)))
    with pytest.raises(TfgenUsageError, match="label-conditioned"):
        latent.interpolation_grid(vae, 0, 1, label=3)


# ------------------------------------------------------------------------ traversal
def test_traversal_varies_only_the_swept_dimension(dcgan):
    base = latent.prior_latents(dcgan, [5])[0]
    values = latent.traversal_values(7)
    np.testing.assert_allclose(values[[0, -1]], [-1.6448536, 1.6448536], atol=1e-6)
    z = latent.traversal_latents(base, [4, 1], values)
    assert z.shape == (2, 7, 6)
    for row, dim in enumerate([4, 1]):
        np.testing.assert_array_equal(z[row, :, dim], values)
        others = np.delete(z[row], dim, axis=-1)
        np.testing.assert_array_equal(others, np.broadcast_to(np.delete(base, dim), others.shape))
    grid, dims = latent.traversal_grid(dcgan, [4, 1], steps=7, seed=5)
    assert grid.shape == (2, 7, 28, 28, 1) and dims == [4, 1]
    np.testing.assert_allclose(grid[1], dcgan.generate(z=z[1]), atol=1e-6)


def test_gan_traversal_ranks_dimensions_by_the_output_change_they_cause():
    model = DCGAN(latent_dim=6, g_width=8, d_width=8)
    project = model.generator.get_layer("project")
    kernel = project.kernel.numpy()
    kernel[2] = 0.0  # z[2] no longer reaches the image
    kernel[5] *= 4.0  # z[5] moves it most
    project.kernel.assign(kernel)
    scores = latent.output_variance(model, steps=5)
    assert scores[2] < 1e-12 * scores.max() and np.argmax(scores) == 5  # 0 up to round-off
    grid, dims = latent.traversal_grid(model, dims=3, steps=5)
    assert grid.shape == (3, 5, 28, 28, 1) and dims[0] == 5 and 2 not in dims


def test_vae_traversal_ranks_dimensions_by_posterior_mean_variance(vae, mnist_test_arrays):
    images = mnist_test_arrays[0][:200].astype(np.float32) / 127.5 - 1.0
    variance = latent.posterior_mean_variance(vae, images)
    grid, dims = latent.traversal_grid(vae, dims=2, steps=4, images=images)
    assert grid.shape == (2, 4, 28, 28, 1)
    assert dims == list(np.argsort(-variance)[:2])


def test_two_dimensional_latent_gives_the_square_manifold_grid():
    model = VAE(latent_dim=2, width=8)
    grid, dims = latent.traversal_grid(model, steps=5)
    assert grid.shape == (5, 5, 28, 28, 1) and dims == [1, 0]
    values = latent.traversal_values(5)
    # Row 0 is z[1] at its highest quantile, column 0 z[0] at its lowest.
    corner = np.asarray(model.generate(z=[[values[0], values[-1]]]))[0]
    np.testing.assert_allclose(grid[0, 0], corner, atol=1e-6)


def test_save_grid_png_and_npy(tmp_path, dcgan):
    grid = latent.interpolation_grid(dcgan, 0, 1, steps=4)
    png = latent.save_grid(np.concatenate([grid, grid]), tmp_path / "g.png")
    assert Image.open(png).size == (4 * 30 + 2, 2 * 30 + 2)
    array = np.load(latent.save_grid(grid, tmp_path / "g.npy"))
    assert array.shape == (1, 4, 28, 28, 1) and array.dtype == np.uint8
    np.testing.assert_array_equal(array, io.to_uint8(grid))
    with pytest.raises(TfgenUsageError, match=r"\.png"):
        latent.save_grid(grid, tmp_path / "g.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npy", "g.png"]


# ------------------------------------------------------------------------ CLI
def test_cli_interpolates_the_zoo_vae_between_test_images(tmp_path, data_dir, mnist_test_arrays):
    out = tmp_path / "vae.npy"
    result = subprocess.run(
        [sys.executable, "-m", "tfgen.cli", "sample", "vae_mnist", "--interpolate", "3,7",
         "--steps", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TFGEN_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mnist test images 3 -> 7" in result.stdout
    grid = np.load(out)
    assert grid.shape == (1, 4, 28, 28, 1)
    model = saving.load_model("vae_mnist", compile=False)
    images = mnist_test_arrays[0][[3, 7]].astype(np.float32) / 127.5 - 1.0
    ends = io.to_uint8(model.generate(z=model.encode(images).mean()))
    # uint8 rounding of a float round-off difference can flip a pixel by one grey level.
    assert np.abs(grid[0, [0, -1]].astype(int) - ends).max() <= 1


def test_cli_gan_grids_write_pngs(tmp_path, capsys):
    out = tmp_path / "interp.png"
    assert cli.main(["sample", "dcgan_mnist", "--interpolate", "1,2", "--steps", "5",
                     "--out", str(out)]) == 0  # fmt: skip
    assert Image.open(out).size == (5 * 30 + 2, 32)
    out = tmp_path / "traverse.png"
    assert cli.main(["sample", "cgan_mnist", "--traverse", "--label", "3", "--dims", "2",
                     "--steps", "3", "--out", str(out)]) == 0  # fmt: skip
    assert Image.open(out).size == (3 * 30 + 2, 2 * 30 + 2)
    assert "2 x 3 grid" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--interpolate", "1,2", "--traverse"], "give only one"),
        (["--interpolate", "1,2", "--labels", "1,2"], "use --label K"),
        (["--traverse", "--labels", "1"], "use --label K"),
        (["--interpolate", "1"], "two integers"),
        (["--steps", "3"], "--steps applies to --interpolate"),
        (["--interpolate", "1,2", "--dims", "3"], "--dims picks traversal rows"),
    ],
)
def test_cli_conflicting_flags_exit_2_with_one_line(args, needle, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert cli.main(["sample", "dcgan_mnist", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_refuses_translators_and_out_of_range_indices(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    out = tmp_path / "x.png"
    assert cli.main(["sample", "pix2pix_fashion_superres", "--traverse", "--out", str(out)]) == 2
    assert "no latent space" in capsys.readouterr().err
    assert cli.main(["sample", "vae_mnist", "--interpolate", "0,99999", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "past the end of mnist's test split" in err and len(err.splitlines()) == 1
    assert not out.exists()
