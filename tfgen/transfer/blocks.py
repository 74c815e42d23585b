"""Blocks of a model's networks and the GAN freezing recipes built on them: FreezeD (the
discriminator's lowest blocks) and the generator's coarse blocks.
"""

import re

import keras

from tfgen.errors import TfgenUsageError
from tfgen.transfer.layers import ALL, _containers, _walk, freeze, unfreeze
from tfgen.transfer.recompile import recompile

_BLOCK_NAME = re.compile(r"^([A-Za-z]+\d+)_")
# Attribute names under which tfgen models keep their networks, per role.
GENERATORS = ("generator", "generator_a2b", "generator_b2a")
DISCRIMINATORS = ("discriminator", "discriminator_a", "discriminator_b")


def network_blocks(network):
    """Groups a network's leaf layers into blocks, input side first.

    Layers named `<word><digits>_...` (`block0_conv`, `block0_bn`, `down3_conv`) share a block;
    the layers before the first block form a stem block (a DCGAN generator's `project` layers)
    and the layers after the last one a head block (`to_image`, `logit`). A network without
    such names gets one block per layer with weights. Blocks without weights are dropped.

    Returns:
        list of `(block_name, [layer paths relative to the network])`.
    """
    entries = [(path, layer) for path, layer, _ in _walk(network)]
    keys = [_BLOCK_NAME.match(path.rsplit("/", 1)[-1]) for path, _ in entries]
    groups = []
    if any(keys):
        first = next(i for i, k in enumerate(keys) if k)
        last = max(i for i, k in enumerate(keys) if k)
        current = "stem"
        for i, ((path, _), key) in enumerate(zip(entries, keys)):
            name = key.group(1) if key else ("stem" if i < first else current)
            if i > last:
                name = "head"
            if not groups or groups[-1][0] != name:
                groups.append((name, []))
            groups[-1][1].append(path)
            current = name
    else:
        for path, layer in entries:
            if layer.weights or not groups:
                groups.append((path.rsplit("/", 1)[-1], []))
            groups[-1][1].append(path)
    weighted = {path for path, layer in entries if layer.weights}
    return [(name, paths) for name, paths in groups if weighted.intersection(paths)]


def _networks(model, role):
    names = GENERATORS if role == "generator" else DISCRIMINATORS
    found = [
        (n, getattr(model, n)) for n in names if isinstance(getattr(model, n, None), keras.Model)
    ]
    if not found:
        raise TfgenUsageError(
            f"freeze_{role[0]} needs a model with a {role}; {type(model).__name__} has none "
            f"(it applies to the GANs: {', '.join(DISCRIMINATORS + GENERATORS)})"
        )
    return found


def _freeze_blocks(model, role, n_blocks, recompile_model):
    n_blocks = int(n_blocks)
    if n_blocks < 0:
        raise TfgenUsageError(f"freeze_{role[0]} must be >= 0, got {n_blocks}")
    frozen = []
    for _, network in _networks(model, role):
        blocks = network_blocks(network)
        if n_blocks >= len(blocks):
            # The GANs' train steps update each network every step; one with nothing left to
            # train has no gradients to apply.
            raise TfgenUsageError(
                f"freeze_{role[0]}={n_blocks} but {network.name} has {len(blocks)} blocks "
                f"({', '.join(b for b, _ in blocks)}), which would leave it nothing to train; "
                f"pass at most {len(blocks) - 1}"
            )
        prefix = _network_prefix(model, network)
        paths = [prefix + p for _, block in blocks[:n_blocks] for p in block]
        if paths:
            frozen += freeze(model, paths, recompile_model=False)
    if frozen and recompile_model and getattr(model, "compiled", False):
        recompile(model)
    return frozen


def freeze_discriminator_blocks(model, n_blocks, recompile_model=True):
    """FreezeD (Mo et al. 2020, https://arxiv.org/abs/2002.10964): freezes the discriminator's
    lowest `n_blocks` blocks (input side) and fine-tunes the rest.

    The low layers hold generic image features that a small target set cannot re-learn
    without over-fitting; the upper ones adapt to the new domain. Returns the frozen paths.
    """
    return _freeze_blocks(model, "discriminator", n_blocks, recompile_model)


def freeze_generator_blocks(model, n_blocks, recompile_model=True):
    """Freezes the generator's first `n_blocks` blocks: the coarse layers (latent projection,
    lowest resolutions) that set layout, so fine-tuning changes only the finer ones.
    Returns the frozen paths."""
    return _freeze_blocks(model, "generator", n_blocks, recompile_model)


def apply_recipe(model, freeze_d=0, freeze_g=0, recompile_model=True):
    """Unfreezes everything, then freezes `freeze_d` discriminator and `freeze_g` generator
    blocks (input side first). Returns the frozen paths."""
    unfreeze(model, ALL, recompile_model=False)
    frozen = []
    if freeze_d:
        frozen += freeze_discriminator_blocks(model, freeze_d, recompile_model=False)
    if freeze_g:
        frozen += freeze_generator_blocks(model, freeze_g, recompile_model=False)
    if recompile_model and getattr(model, "compiled", False):
        recompile(model)
    return frozen


def model_networks(model):
    """The networks whose blocks the callbacks schedule: a GAN's, or the model itself."""
    found = [
        net
        for n in GENERATORS + DISCRIMINATORS
        if isinstance(net := getattr(model, n, None), keras.Model)
    ]
    return found or [model]


def _network_prefix(model, network):
    """The path prefix of `network`'s layers inside `model` (`""` for the model itself)."""
    if network is model:
        return ""
    for path, sub in _containers(model).items():
        if sub is network:
            return path + "/"
    raise TfgenUsageError(f"{network.name} is not a sub-network of {model.name}")


def block_entries(model, network, block):
    prefix = _network_prefix(model, network)
    paths = {prefix + p for p in block}
    return [e for e in _walk(model) if e[0] in paths]
