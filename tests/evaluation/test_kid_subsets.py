"""KID's default subset size: half the smaller set (at most 1000), so its std means something."""

import numpy as np
import pytest

from tfgen.evaluation import evaluate, metrics


@pytest.mark.parametrize(
    "num_real, num_fake, requested, expected",
    [
        (1000, 1000, None, 500),
        (5000, 3000, None, 1000),
        (10, 7, None, 3),
        (3, 3, None, 3),  # too small to halve: one subset of everything
        (1000, 1000, 300, 300),
        (200, 1000, 1000, 200),  # an asked-for size is capped at the smaller set
    ],
)
def test_default_subset_size(num_real, num_fake, requested, expected):
    assert evaluate.kid_subset_size_for(num_real, num_fake, requested) == expected


def test_kid_std_is_positive_at_n_1000(rng):
    # What `tfgen evaluate --n 1000` runs: 1000 fake vs 1000 real features, default size.
    real = rng.normal(size=(1000, 16))
    fake = rng.normal(0.3, 1.0, size=(1000, 16))
    result = evaluate.evaluate_features(fake, real, metrics=("kid",), kid_subsets=50)
    assert result["kid_std"] > 0.05 * result["kid"] > 0
    # The old cap (subsets as large as the set) gave a std of 0 (up to the order of sums).
    assert metrics.kid(real, fake, num_subsets=5, subset_size=1000)[1] < 1e-12  # round-off


def test_kid_mean_stays_unbiased_with_half_size_subsets(rng):
    # Equal distributions: the per-draw means average to 0 within their standard error.
    means = []
    for _ in range(30):
        real, fake = rng.normal(size=(2, 200, 8))
        means.append(
            evaluate.evaluate_features(fake, real, metrics=("kid",), kid_subsets=10)["kid"]
        )
    means = np.array(means)
    assert abs(means.mean()) < 3 * means.std(ddof=1) / np.sqrt(len(means))
    # And for a real difference, half-size subsets estimate the same value as full-set KID.
    real = rng.normal(size=(400, 8))
    fake = rng.normal(0.5, 1.0, size=(400, 8))
    half = evaluate.evaluate_features(fake, real, metrics=("kid",), kid_subsets=200)
    full = metrics.kid(real, fake, num_subsets=1, subset_size=400)[0]
    assert abs(half["kid"] - full) < 3 * half["kid_std"] / np.sqrt(200) + 0.02 * full
