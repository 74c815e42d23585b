"""Sample-quality evaluation: FID, KID, precision/recall, IS, class coverage and the feature
extractors (zoo domain classifiers, InceptionV3) they run on.
"""

from tfgen.evaluation.classifier import build_classifier, train_classifier
from tfgen.evaluation.evaluate import (
    DEFAULT_METRICS,
    METRICS,
    evaluate_features,
    evaluate_samples,
    fid_between,
)
from tfgen.evaluation.features import FeatureExtractor, extractor_name, get_extractor
from tfgen.evaluation.metrics import (
    class_coverage,
    feature_statistics,
    fid,
    frechet_distance,
    inception_score,
    kid,
    label_accuracy,
    precision_recall,
)

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "FeatureExtractor",
    "build_classifier",
    "class_coverage",
    "evaluate_features",
    "evaluate_samples",
    "extractor_name",
    "feature_statistics",
    "fid",
    "fid_between",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kid",
    "label_accuracy",
    "precision_recall",
    "train_classifier",
]
