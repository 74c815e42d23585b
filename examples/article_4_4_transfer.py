"""
Title: Transfer learning from MNIST to Fashion-MNIST (article section 4.4, "迁移学习的应用")
Author: tfgen contributors
Date created: 2026/11/23
Last modified: 2026/12/06
Description: The article's `pretrain(...)` and `fine_tune(...)`: a DCGAN trained on MNIST
    (the zoo's `dcgan_mnist`) fine-tuned on Fashion-MNIST with frozen layers, scored by FID
    before and after.
Accelerator: None (a few minutes on 2 CPU cores at the defaults)

## Introduction

Section 4.4 of the article sketches, in TensorFlow 1, a `pretrain(sess, ...)` and a
`fine_tune(sess, ...)` that each train the generator and the discriminator. Section 3.4
gives four steps, each a cell below:

1. pretrain the generative model on plenty of data (`pretrain`);
2. adjust the model to the new task (`tfgen.transfer`: freeze the discriminator's lowest
   blocks, FreezeD, and the generator's coarsest);
3. fine-tune it on the new task's data (`fine_tune`);
4. evaluate it on the new task (`evaluate`: FID in the Fashion-MNIST classifier's features,
   lower is better).

    python examples/article_4_4_transfer.py [--steps 600] [--data-dir DIR]

`--quick` (2 steps each, small networks) with `--source ''` is what the tests run.
"""

import argparse
import pathlib

import numpy as np

from tfgen import data, io, registry, transfer
from tfgen.errors import TfgenError
from tfgen.evaluation import metrics
from tfgen.evaluation.features import get_extractor
from tfgen.models import DCGAN

"""
## Settings
"""

parser = argparse.ArgumentParser(description="Article section 4.4: transfer learning.")
parser.add_argument("--source", default="dcgan_mnist", help="zoo name, .keras, or ''")
parser.add_argument("--pretrain-steps", type=int, default=1000)
parser.add_argument("--steps", type=int, default=600, help="fine-tuning steps")
parser.add_argument("--freeze-d", type=int, default=1)
parser.add_argument("--freeze-g", type=int, default=1)
parser.add_argument("--n-eval", type=int, default=2000)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)")
parser.add_argument("--out", default="runs/article_4_4")
parser.add_argument("--quick", action="store_true", help="a few steps (tests)")
args = parser.parse_args()
if args.quick:
    args.pretrain_steps, args.steps, args.n_eval = 2, 2, 200
out = pathlib.Path(args.out)

"""
## Step 1, pretraining: the article's `pretrain(...)`

The zoo's DCGAN trained on MNIST when it is installed (`tfgen.transfer.load_for_finetuning`
loads it with every layer trainable), else a DCGAN trained here for `--pretrain-steps`
steps. A copy of every weight is kept, to see afterwards which ones fine-tuning changed.
"""


def pretrain(steps, batch_size=64, seed=0, source="dcgan_mnist", quick=False, data_dir=None):
    if source and (pathlib.Path(source).exists() or source in registry.zoo_entries()):
        print(f"pretrained model: {source} (tfgen.transfer.load_for_finetuning)")
        return transfer.load_for_finetuning(source)
    print(f"pretraining a DCGAN on MNIST for {steps} steps")
    model = DCGAN(g_width=8, d_width=8, seed=seed) if quick else DCGAN(seed=seed)
    model.compile()
    model.fit(
        data.load("mnist", batch_size=batch_size, seed=seed, data_dir=data_dir).repeat(),
        steps_per_epoch=steps,
        epochs=1,
        verbose=0 if quick else 2,
        shuffle=False,  # the dataset shuffles itself
    )
    return model


model = pretrain(
    args.pretrain_steps,
    seed=args.seed,
    source=args.source,
    quick=args.quick,
    data_dir=args.data_dir,
)
pretrained_weights = {k: w.numpy() for k, w in transfer.weights_by_path(model).items()}

"""
## Step 4's yardstick, measured before fine-tuning: `evaluate`

FID of `--n-eval` samples against as many Fashion-MNIST test images, both in the features of
the zoo's Fashion-MNIST classifier. Without that classifier the example still runs, unscored.
"""


def evaluate(model, real_features, extractor, n=2000, seed=123):
    return metrics.fid(real_features, extractor.features(model.generate(n, seed=seed)))


try:
    extractor = get_extractor("fashion_mnist")
    local = data.load_arrays("fashion_mnist", "test", data_dir_override=args.data_dir)
    if local is None:
        raise SystemExit(
            "fashion_mnist not found: pass --data-dir or set TFGEN_DATA_DIR to the folder "
            "that holds fashion_mnist/"
        )
    test_images, _ = local
    real = np.random.default_rng(args.seed).permutation(test_images)[: args.n_eval]
    real_features = extractor.features(real)
except TfgenError as e:  # the evaluation classifier is not in this zoo
    print(f"no evaluation: {e}")
    extractor = None
fid_before = evaluate(model, real_features, extractor, args.n_eval) if extractor else None
io.save_images(model.generate(64, seed=args.seed), out / "before.png")

"""
## Steps 2 and 3, adjusting and fine-tuning: the article's `fine_tune(...)`

Freeze the generic layers, train the rest on the new data. FreezeD (Mo et al. 2020) keeps
the discriminator's lowest blocks (edges, strokes) fixed; freezing the generator's coarsest
block keeps the latent-to-layout mapping. Frozen BatchNormalization layers also keep their
statistics (they run in inference mode). The model is compiled after freezing, so that the
optimizers are built for what still trains.
"""


def fine_tune(
    model, steps, freeze_d=1, freeze_g=1, batch_size=64, seed=0, verbose=2, data_dir=None
):
    frozen = transfer.apply_recipe(model, freeze_d=freeze_d, freeze_g=freeze_g)
    transfer.trainable_summary(model)
    model.compile()
    model.fit(
        data.load("fashion_mnist", batch_size=batch_size, seed=seed, data_dir=data_dir).repeat(),
        steps_per_epoch=steps,
        epochs=1,
        verbose=verbose,
        shuffle=False,
    )
    return frozen


frozen = fine_tune(
    model,
    args.steps,
    args.freeze_d,
    args.freeze_g,
    seed=args.seed,
    verbose=0 if args.quick else 2,
    data_dir=args.data_dir,
)

"""
## Step 4, evaluation after fine-tuning

The frozen weights are bit-identical to the pretrained ones; FID against Fashion-MNIST should
fall, and the samples move from digits towards clothing.
"""

fid_after = evaluate(model, real_features, extractor, args.n_eval) if extractor else None
io.save_images(model.generate(64, seed=args.seed), out / "after.png")

unchanged = [
    path
    for path, w in transfer.weights_by_path(model).items()
    if np.array_equal(pretrained_weights[path], w.numpy())
]
print(f"frozen layers: {', '.join(frozen)}")
print(
    f"{len(unchanged)} of {len(pretrained_weights)} weights unchanged by fine-tuning (the frozen)"
)
if extractor:
    print(
        f"FID vs Fashion-MNIST test: before fine-tuning {fid_before:.2f}, after "
        f"{args.steps} steps {fid_after:.2f}"
    )
print(f"wrote {out / 'before.png'} and {out / 'after.png'}")
