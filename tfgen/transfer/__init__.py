"""Transfer learning for tfgen models: the layer API (`layers`: paths, freeze and unfreeze;
`recompile`; `blocks`: FreezeD and the generator's coarse blocks) and `finetune`, which trains
a loaded, frozen model with the training job of `tfgen train`.

The fine-tuning callbacks (`BlockLearningRates`, `ProgressiveUnfreezing`) live with the other
callbacks in `tfgen.training.callbacks` and stay reachable here.
"""

import importlib

from tfgen.transfer.blocks import (
    DISCRIMINATORS,
    GENERATORS,
    apply_recipe,
    freeze_discriminator_blocks,
    freeze_generator_blocks,
    network_blocks,
)
from tfgen.transfer.layers import (
    ALL,
    AVERAGES,
    freeze,
    frozen_layers,
    layer_paths,
    load_for_finetuning,
    set_trainable,
    trainable_summary,
    unfreeze,
    weights_by_path,
)
from tfgen.transfer.recompile import recompile

# Imported on first use: the fine-tuning job and the callbacks import the training job,
# whose callbacks import this package's layer API (an import cycle if imported here).
_LAZY = {
    "finetune": "tfgen.transfer.finetuning",
    "BlockLearningRates": "tfgen.training.callbacks",
    "ProgressiveUnfreezing": "tfgen.training.callbacks",
}

__all__ = [
    "ALL",
    "AVERAGES",
    "DISCRIMINATORS",
    "GENERATORS",
    "BlockLearningRates",
    "ProgressiveUnfreezing",
    "apply_recipe",
    "finetune",
    "freeze",
    "freeze_discriminator_blocks",
    "freeze_generator_blocks",
    "frozen_layers",
    "layer_paths",
    "load_for_finetuning",
    "network_blocks",
    "recompile",
    "set_trainable",
    "trainable_summary",
    "unfreeze",
    "weights_by_path",
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return getattr(module, name)
    raise AttributeError(f"module 'tfgen.transfer' has no attribute {name!r}")
