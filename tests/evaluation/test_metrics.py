"""Metrics against closed forms, brute-force formulas and point clouds of known overlap."""

import numpy as np
import pytest
import scipy.linalg

from tfgen.errors import TfgenUsageError
from tfgen.evaluation import metrics


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _fid_closed_form_diagonal(mu1, s1, mu2, s2):
    return np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3.0, size=8), rng.uniform(0.1, 3.0, size=8)
    expected = _fid_closed_form_diagonal(mu1, s1, mu2, s2)
    got = metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_frechet_distance_matches_sqrtm_for_full_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    sigma1, sigma2 = _random_spd(rng, 16), _random_spd(rng, 16)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * covmean)
    got = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_frechet_distance_of_one_dimension_is_the_gaussian_formula():
    # (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2.
    got = metrics.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]])
    assert got == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2, rel=1e-12)


def test_fid_on_large_samples_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([0.0, 1.0, -1.0, 2.0]), np.array([0.5, 1.0, 0.0, 1.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([2.0, 1.0, 0.5, 3.0])
    a = mu1 + np.sqrt(s1) * rng.normal(size=(200_000, 4))
    b = mu2 + np.sqrt(s2) * rng.normal(size=(200_000, 4))
    expected = _fid_closed_form_diagonal(mu1, s1, mu2, s2)
    assert metrics.fid(a, b) == pytest.approx(expected, rel=0.01)


def test_fid_of_a_set_with_itself_is_zero_even_with_singular_covariance():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 64)).astype(np.float32)  # fewer samples than dims: rank 49
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(x, x + 1.0) == pytest.approx(64.0, rel=1e-6)


def test_feature_statistics_in_chunks_equal_numpy():
    rng = np.random.default_rng(4)
    x = rng.normal(loc=1000.0, size=(1000, 5))  # large offset: one-pass formulas lose digits
    mu, sigma = metrics.feature_statistics(x, batch_size=64)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-8, atol=1e-10)


def test_fid_rejects_mismatched_dims_and_bad_shapes():
    with pytest.raises(TfgenUsageError, match="feature dims differ: features_a has 4"):
        metrics.fid(np.zeros((10, 4)), np.zeros((10, 5)))
    with pytest.raises(TfgenUsageError, match="2-D array"):
        metrics.fid(np.zeros((10, 4, 4)), np.zeros((10, 16)))
    with pytest.raises(TfgenUsageError, match="at least 2 samples"):
        metrics.fid(np.zeros((1, 4)), np.zeros((10, 4)))
    with pytest.raises(TfgenUsageError, match="NaN"):
        metrics.fid(np.full((10, 4), np.nan), np.zeros((10, 4)))
    with pytest.raises(TfgenUsageError, match="mismatched Gaussian parameters"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))


def _direct_unbiased_mmd2(x, y):
    d = x.shape[1]

    def k(a, b):
        return (np.dot(a, b) / d + 1.0) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_a_direct_double_loop():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 3)), rng.normal(loc=0.5, size=(7, 3))
    # subset_size equal to the set size: every subset is the whole set, so std is 0.
    mean, std = metrics.kid(x, y, num_subsets=3, subset_size=7)
    assert mean == pytest.approx(_direct_unbiased_mmd2(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_unbiased_for_equal_distributions():
    rng = np.random.default_rng(6)
    estimates = []
    for seed in range(200):
        x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
        estimates.append(metrics.kid(x, y, num_subsets=1, subset_size=40, seed=seed)[0])
    estimates = np.array(estimates)
    standard_error = estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean()) < 3 * standard_error
    # An unbiased estimate of a zero distance must go below zero (a biased one never does).
    assert (estimates < 0).mean() > 0.3


def test_kid_grows_with_the_distance_between_distributions():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(1000, 8))
    same_mean, same_std = metrics.kid(a, rng.normal(size=(1000, 8)), 20, 200)
    near_mean, _ = metrics.kid(a, rng.normal(loc=0.3, size=(1000, 8)), 20, 200)
    far_mean, far_std = metrics.kid(a, rng.normal(loc=1.0, size=(1000, 8)), 20, 200)
    assert abs(same_mean) < 3 * same_std
    assert same_mean < near_mean < far_mean
    assert far_mean > 10 * far_std


def test_kid_rejects_too_few_samples_for_the_subset_size():
    with pytest.raises(TfgenUsageError, match="subset_size=1000 exceeds the smaller set"):
        metrics.kid(np.zeros((500, 4)), np.zeros((2000, 4)))
    with pytest.raises(TfgenUsageError, match="feature dims differ"):
        metrics.kid(np.zeros((10, 4)), np.zeros((10, 3)), subset_size=5)


def _brute_force_precision_recall(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def inside(queries, centres, r):
        d = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
        return np.mean((d <= r[None]).any(axis=1))

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def test_precision_recall_of_identical_clouds_is_one():
    x = np.random.default_rng(8).normal(size=(500, 16))
    assert metrics.precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_precision_recall_of_disjoint_clouds_is_zero():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(500, 16))
    fake = rng.normal(loc=50.0, size=(400, 16))
    assert metrics.precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_precision_recall_of_a_fake_cloud_covering_half_the_real_one():
    rng = np.random.default_rng(10)
    real = rng.uniform(size=(2000, 2))
    fake = rng.uniform(size=(1000, 2)) * [0.5, 1.0]  # the left half of the real square
    precision, recall = metrics.precision_recall(real, fake, k=3)
    # A few fake points fall in gaps between the k-NN balls of a finite real sample.
    assert precision > 0.95
    # About half the real points lie in the covered half; edge balls reach a little over it.
    assert recall == pytest.approx(0.5, abs=0.05)


def test_precision_recall_in_small_blocks_equals_brute_force(monkeypatch):
    rng = np.random.default_rng(11)
    real = rng.normal(size=(120, 5))
    fake = rng.normal(loc=0.7, scale=0.8, size=(90, 5))
    expected = _brute_force_precision_recall(real, fake, k=4)
    assert 0.1 < expected[0] < 0.95 and 0.1 < expected[1] < 0.95  # a non-trivial case
    # 50 entries per block: a few rows at a time, as with 50k x 50k features.
    monkeypatch.setattr(metrics, "DISTANCE_BLOCK", 50)
    got = metrics.precision_recall(real, fake, k=4)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_precision_recall_rejects_too_few_samples_for_k():
    with pytest.raises(TfgenUsageError, match="needs more than 5 samples in each set"):
        metrics.precision_recall(np.zeros((100, 2)), np.zeros((5, 2)), k=5)
    with pytest.raises(TfgenUsageError, match="k must be at least 1"):
        metrics.precision_recall(np.zeros((10, 2)), np.zeros((10, 2)), k=0)


def test_inception_score_of_uniform_probabilities_is_one():
    mean, std = metrics.inception_score(np.full((100, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_distinct_classes_is_the_class_count():
    probs = np.eye(10)[np.arange(200) % 10]  # every split holds each class twice
    mean, std = metrics.inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)
    # Confident but collapsed onto one class is as bad as uniform.
    assert metrics.inception_score(np.eye(10)[np.zeros(100, int)], splits=5)[0] == pytest.approx(1)


def test_inception_score_rejects_logits_and_too_many_splits():
    with pytest.raises(TfgenUsageError, match="sum to 1; pass softmax outputs"):
        metrics.inception_score(np.random.default_rng(0).normal(size=(20, 10)), splits=2)
    with pytest.raises(TfgenUsageError, match="splits <= num_samples"):
        metrics.inception_score(np.full((5, 10), 0.1), splits=10)


def test_class_coverage_and_largest_share():
    coverage, share = metrics.class_coverage(np.array([0, 0, 1, 2]), num_classes=5)
    assert coverage == pytest.approx(3 / 5)
    assert share == pytest.approx(2 / 4)
    assert metrics.class_coverage(np.arange(100) % 10, 10) == (1.0, 0.1)
    with pytest.raises(TfgenUsageError, match=r"outside \[0, 5\)"):
        metrics.class_coverage(np.array([0, 7]), num_classes=5)
    with pytest.raises(TfgenUsageError, match="take argmax of probabilities"):
        metrics.class_coverage(np.full((4, 5), 0.2), num_classes=5)


def test_label_accuracy():
    assert metrics.label_accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(TfgenUsageError, match="3 predicted labels for 4 target labels"):
        metrics.label_accuracy(np.array([1, 2, 3]), np.array([1, 2, 3, 4]))
