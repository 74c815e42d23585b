"""The pretrained zoo: one card schema, publishing entries, and rebuilding them from recipes.

`tfgen.zoo.card` needs no TensorFlow (`tfgen list` reads cards before it loads); publishing
and rebuilding import it when first used.
"""

import importlib

from tfgen.zoo.card import check_card, headline, read_card

_LAZY = {"publish": "tfgen.zoo.publish", "update_card": "tfgen.zoo.publish"}
__all__ = ["check_card", "headline", "publish", "read_card", "update_card"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfgen.zoo' has no attribute {name!r}")
