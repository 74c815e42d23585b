"""Issue 3's bad inputs: each a clear error saying what was wrong and what to do."""

import numpy as np
import pytest

from tfgen import cli
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate_samples, metrics


def test_too_few_samples_for_k_is_refused():
    with pytest.raises(TfgenUsageError, match=r"k=3 needs more than 3 samples.*lower k"):
        metrics.precision_recall(np.zeros((3, 4)), np.zeros((3, 4)), k=3)


def test_images_out_of_range_are_refused_with_the_scaling_to_use():
    fake = np.full((10, 28, 28, 1), 200.0, np.float32)
    real = np.zeros((10, 28, 28, 1), np.uint8)
    with pytest.raises(TfgenUsageError, match=r"must be in \[-1, 1\].*x / 127.5 - 1"):
        evaluate_samples(fake, real, metrics=("fid",), dataset="mnist")


def test_nll_of_a_gan_is_a_usage_error(data_dir, tmp_path, capsys):
    out = tmp_path / "m.json"
    args = ["evaluate", "dcgan_mnist", "--dataset", "mnist", "--metrics", "nll", "--n", "10"]
    assert cli.main([*args, "--data-dir", str(data_dir), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no likelihood" in err and "drop nll" in err and len(err.splitlines()) == 1
    assert not out.exists()
