"""The one normalization helper of every network builder: batch, instance, layer or none.

Each kind is built with the layer class, arguments and name the zoo's weights were saved with,
so a network built today loads yesterday's `.keras` files: change none of them lightly.
"""

from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.fused_batch_norm import FusedBatchNormalization

NORMALIZATIONS = ("batch", "instance", "layer", "none")


def normalization_layer(kind, name, synchronized=False):
    """A block's normalization layer, or None for `"none"`.

    Args:
        kind: str or None. `"batch"` (`FusedBatchNormalization`), `"instance"`
            (`GroupNormalization` with one group per channel), `"layer"`
            (`LayerNormalization`), or `"none"` / None for no layer.
        name: str. The layer's name.
        synchronized: bool. BatchNorm only: statistics over the global batch rather than each
            replica's share, so training under `MirroredStrategy` matches one device with the
            same global batch. Defaults to False.
    """
    if kind == "batch":
        return FusedBatchNormalization(synchronized=synchronized, name=name)
    if kind == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    if kind == "layer":
        return layers.LayerNormalization(name=name)
    if kind in (None, "none"):
        return None
    raise TfgenUsageError(
        f"unknown normalization {kind!r}; use one of {', '.join(map(repr, NORMALIZATIONS))}"
    )
