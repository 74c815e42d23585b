"""`tfgen.networks.normalization.normalization_layer`: each kind's layer, and a clear error."""

import pytest
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.fused_batch_norm import FusedBatchNormalization
from tfgen.networks.normalization import NORMALIZATIONS, normalization_layer


def test_each_kind_builds_its_layer_with_the_saved_arguments():
    batch = normalization_layer("batch", "bn")
    assert isinstance(batch, FusedBatchNormalization) and batch.name == "bn"
    assert not batch.synchronized
    assert normalization_layer("batch", "bn", synchronized=True).synchronized
    instance = normalization_layer("instance", "in")
    assert isinstance(instance, layers.GroupNormalization)
    assert (instance.groups, instance.epsilon) == (-1, 1e-5)
    assert isinstance(normalization_layer("layer", "ln"), layers.LayerNormalization)
    assert normalization_layer("none", "x") is None and normalization_layer(None, "x") is None


def test_unknown_kind_names_the_choices():
    with pytest.raises(TfgenUsageError, match="unknown normalization 'group'") as e:
        normalization_layer("group", "x")
    assert all(repr(kind) in str(e.value) for kind in NORMALIZATIONS)
