"""Sample-quality metrics on feature vectors and class probabilities: FID, KID, precision and
recall, Inception Score, class coverage. Numpy only, batched so 50k x 2048 inputs fit in memory.
"""

import numpy as np
from scipy import special

from tfgen.errors import TfgenUsageError

# Rows per chunk when accumulating statistics, and the most distance-matrix entries held at
# once (2**25 float32 values = 128 MiB).
STATS_BATCH = 4096
DISTANCE_BLOCK = 2**25


def _as_features(features, name):
    features = np.asarray(features)
    if features.ndim != 2:
        raise TfgenUsageError(
            f"{name} must be a 2-D array [num_samples, feature_dim], got shape {features.shape}; "
            "flatten or pass extractor features"
        )
    if not np.issubdtype(features.dtype, np.number):
        raise TfgenUsageError(f"{name} must be numeric, got dtype {features.dtype}")
    if not np.all(np.isfinite(features)):
        raise TfgenUsageError(f"{name} holds NaN or infinite values; check the generator output")
    return features


def _check_pair(features_a, features_b, names=("features_a", "features_b")):
    a = _as_features(features_a, names[0])
    b = _as_features(features_b, names[1])
    if a.shape[1] != b.shape[1]:
        raise TfgenUsageError(
            f"feature dims differ: {names[0]} has {a.shape[1]}, {names[1]} has {b.shape[1]}; "
            "extract both sets with the same extractor"
        )
    return a, b


def feature_statistics(features, batch_size=STATS_BATCH):
    """Mean and covariance (ddof=1) of `features`, accumulated in float64 row chunks.

    Two passes (mean, then centred products) avoid the cancellation of the one-pass formula.

    Args:
        features: array `[N, D]` with N >= 2.
        batch_size: int. Rows per chunk.

    Returns:
        `(mu [D], sigma [D, D])` as float64.
    """
    features = _as_features(features, "features")
    n, d = features.shape
    if n < 2:
        raise TfgenUsageError(f"a covariance needs at least 2 samples, got {n}")
    mu = np.zeros(d, np.float64)
    for start in range(0, n, batch_size):
        mu += features[start : start + batch_size].sum(axis=0, dtype=np.float64)
    mu /= n
    sigma = np.zeros((d, d), np.float64)
    for start in range(0, n, batch_size):
        centred = features[start : start + batch_size].astype(np.float64) - mu
        sigma += centred.T @ centred
    return mu, sigma / (n - 1)


def _psd_sqrt(matrix):
    # Symmetric eigendecomposition; eigenvalues below zero are round-off on a PSD matrix.
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)).
    The trace term is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix sigma1^(1/2) sigma2 sigma1^(1/2), which has the same eigenvalues as
    sigma1 sigma2. Unlike `scipy.linalg.sqrtm` of the non-symmetric product, this never goes
    complex and stays stable for singular covariances (fewer samples than dimensions).
    Heusel et al. 2017, https://arxiv.org/abs/1706.08500.

    Args:
        mu1: array `[D]`. Mean of the first Gaussian.
        sigma1: array `[D, D]`. Covariance of the first Gaussian.
        mu2: array `[D]`. Mean of the second Gaussian.
        sigma2: array `[D, D]`. Covariance of the second Gaussian.

    Returns:
        The squared Frechet distance as a float (>= 0).
    """
    mu1, mu2 = (
        np.atleast_1d(np.asarray(mu1, np.float64)),
        np.atleast_1d(np.asarray(mu2, np.float64)),
    )
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise TfgenUsageError(
            f"mismatched Gaussian parameters: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
            f"mu2 {mu2.shape}, sigma2 {sigma2.shape}; expected [D] means and [D, D] covariances"
        )
    sqrt_sigma1 = _psd_sqrt(sigma1)
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_covmean = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean
    # Equal inputs can land a hair below zero from round-off.
    return float(max(distance, 0.0))


def fid(features_a, features_b):
    """Frechet Inception Distance between two feature sets (any extractor's features).

    Args:
        features_a: array `[N, D]`, N >= 2.
        features_b: array `[M, D]`, M >= 2.

    Returns:
        FID as a float; 0 for identical distributions, lower is better.
    """
    a, b = _check_pair(features_a, features_b)
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x, y):
    m = x.shape[0]
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    # The unbiased estimator leaves out the diagonal k(x_i, x_i) terms.
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within - 2 * k_xy.mean()


def kid(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3.

    Averaged over `num_subsets` random subsets of `subset_size` samples from each set (drawn
    without replacement within a subset). The estimator is unbiased, so for equal
    distributions the mean is near 0 and can be negative.
    Binkowski et al. 2018, https://arxiv.org/abs/1801.01401.

    Args:
        features_a: array `[N, D]`.
        features_b: array `[M, D]`.
        num_subsets: int. Number of subsets. Defaults to 100.
        subset_size: int. Samples per subset, at most min(N, M). Defaults to 1000.
        seed: int. Seed of the subset draws. Defaults to 0.

    Returns:
        `(mean, std)` of the per-subset MMD^2 estimates, as floats.
    """
    a, b = _check_pair(features_a, features_b)
    if num_subsets < 1:
        raise TfgenUsageError(f"num_subsets must be at least 1, got {num_subsets}")
    if subset_size < 2:
        raise TfgenUsageError(f"subset_size must be at least 2, got {subset_size}")
    smallest = min(len(a), len(b))
    if subset_size > smallest:
        raise TfgenUsageError(
            f"KID subset_size={subset_size} exceeds the smaller set ({len(a)} vs {len(b)} "
            f"samples); pass subset_size <= {smallest} or give more samples"
        )
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets, np.float64)
    for i in range(num_subsets):
        x = a[rng.choice(len(a), subset_size, replace=False)].astype(np.float64)
        y = b[rng.choice(len(b), subset_size, replace=False)].astype(np.float64)
        estimates[i] = _unbiased_mmd2(x, y)
    return float(estimates.mean()), float(estimates.std())


def _squared_norms(x):
    return np.einsum("ij,ij->i", x, x)


def _row_blocks(num_rows, num_cols):
    rows = max(1, DISTANCE_BLOCK // max(num_cols, 1))
    for start in range(0, num_rows, rows):
        yield slice(start, min(start + rows, num_rows))


def _squared_distances(x, x_norms, y, y_norms):
    # ||x - y||^2 = |x|^2 - 2 x.y + |y|^2; clip round-off negatives.
    return np.maximum(x_norms[:, None] - 2.0 * (x @ y.T) + y_norms[None, :], 0.0)


def _knn_radii(x, x_norms, k):
    """Squared distance from each row of `x` to its k-th nearest other row."""
    radii = np.empty(len(x), np.float32)
    for rows in _row_blocks(len(x), len(x)):
        block = _squared_distances(x[rows], x_norms[rows], x, x_norms)
        # Column k of the partition skips the point itself (distance 0 at column 0).
        radii[rows] = np.partition(block, k, axis=1)[:, k]
    return radii


def _fraction_inside(queries, query_norms, centres, centre_norms, centre_radii):
    inside = 0
    for rows in _row_blocks(len(queries), len(centres)):
        block = _squared_distances(queries[rows], query_norms[rows], centres, centre_norms)
        inside += int(np.count_nonzero((block <= centre_radii[None, :]).any(axis=1)))
    return inside / len(queries)


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall with k-nearest-neighbour manifolds.

    Precision: the fraction of fake samples inside the real manifold (the union of balls around
    each real sample, of radius its distance to its k-th nearest real neighbour). Recall: the
    fraction of real samples inside the fake manifold. Distances are computed in row blocks, so
    memory stays at `DISTANCE_BLOCK` entries whatever the sample counts.
    Kynkaanniemi et al. 2019, https://arxiv.org/abs/1904.06991.

    Args:
        real_features: array `[N, D]`, N > k.
        fake_features: array `[M, D]`, M > k.
        k: int. Neighbourhood size. Defaults to 3.

    Returns:
        `(precision, recall)` as floats in [0, 1].
    """
    real, fake = _check_pair(real_features, fake_features, ("real_features", "fake_features"))
    if k < 1:
        raise TfgenUsageError(f"k must be at least 1, got {k}")
    if min(len(real), len(fake)) <= k:
        raise TfgenUsageError(
            f"precision/recall with k={k} needs more than {k} samples in each set, got "
            f"{len(real)} real and {len(fake)} fake; give more samples or lower k"
        )
    real = real.astype(np.float32)
    fake = fake.astype(np.float32)
    real_norms, fake_norms = _squared_norms(real), _squared_norms(fake)
    real_radii = _knn_radii(real, real_norms, k)
    fake_radii = _knn_radii(fake, fake_norms, k)
    precision = _fraction_inside(fake, fake_norms, real, real_norms, real_radii)
    recall = _fraction_inside(real, real_norms, fake, fake_norms, fake_radii)
    return precision, recall


def _as_probabilities(probs):
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise TfgenUsageError(
            f"probs must be [num_samples, num_classes] with >= 2 classes, got shape {probs.shape}"
        )
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise TfgenUsageError(
            "probs rows must be non-negative and sum to 1; pass softmax outputs, not logits"
        )
    return probs


def inception_score(probs, splits=10):
    """Inception Score exp(E_x KL(p(y|x) || p(y))), averaged over `splits` equal parts.

    Salimans et al. 2016, https://arxiv.org/abs/1606.03498. With a domain classifier (not
    Inception) it measures confident, diverse class predictions: 1 is the worst, the number
    of classes the best.

    Args:
        probs: array `[N, C]` of class probabilities (rows sum to 1).
        splits: int. Number of parts (N >= splits). Defaults to 10.

    Returns:
        `(mean, std)` over the splits, as floats.
    """
    probs = _as_probabilities(probs)
    if splits < 1 or len(probs) < splits:
        raise TfgenUsageError(
            f"inception_score needs 1 <= splits <= num_samples, got splits={splits} for "
            f"{len(probs)} samples; lower splits or give more samples"
        )
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # rel_entr is 0 where p == 0, so one-hot rows need no epsilon.
        kl = special.rel_entr(part, marginal).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def _as_labels(labels, name):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TfgenUsageError(
            f"{name} must be a 1-D integer array of class ids, got {labels.dtype} {labels.shape}; "
            "take argmax of probabilities first"
        )
    if len(labels) == 0:
        raise TfgenUsageError(f"{name} is empty")
    return labels


def class_coverage(pred_labels, num_classes):
    """How many classes the samples fall into, and how much the largest class dominates.

    Args:
        pred_labels: int array `[N]` of predicted classes in `[0, num_classes)`.
        num_classes: int. Number of classes.

    Returns:
        `(coverage, max_class_share)`: the fraction of classes with at least one sample, and
        the fraction of samples in the most frequent class (1 / num_classes when balanced,
        1 for mode collapse).
    """
    labels = _as_labels(pred_labels, "pred_labels")
    if num_classes < 1:
        raise TfgenUsageError(f"num_classes must be positive, got {num_classes}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise TfgenUsageError(
            f"pred_labels span [{labels.min()}, {labels.max()}], outside [0, {num_classes}); "
            "pass the classifier's number of classes"
        )
    counts = np.bincount(labels, minlength=num_classes)
    return float(np.count_nonzero(counts) / num_classes), float(counts.max() / len(labels))


def label_accuracy(pred_labels, target_labels):
    """Fraction of samples whose predicted class equals the class they were generated for.

    Args:
        pred_labels: int array `[N]` from a domain classifier.
        target_labels: int array `[N]`, the labels a conditional generator was given.

    Returns:
        Accuracy as a float in [0, 1].
    """
    pred = _as_labels(pred_labels, "pred_labels")
    target = _as_labels(target_labels, "target_labels")
    if pred.shape != target.shape:
        raise TfgenUsageError(
            f"{len(pred)} predicted labels for {len(target)} target labels; pass one per sample"
        )
    return float(np.mean(pred == target))
