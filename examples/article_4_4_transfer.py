"""Article section 4.4 ("迁移学习的应用"), in TF2/Keras with tfgen: pretrain(...) a DCGAN on
MNIST (or load the zoo's `dcgan_mnist`), then fine_tune(...) it on Fashion-MNIST with frozen
layers (`tfgen.transfer`), and evaluate before and after.

    TFGEN_DATA_DIR=../shared/data python scripts/article_4_4_transfer.py [--steps 600]

Section 3.4's four steps, as code: pretrain on plenty of data (`pretrain`), adjust the model
to the new task (`tfgen.transfer`: freeze the discriminator's lowest blocks, FreezeD, and
the generator's coarsest), fine-tune on the new data (`fine_tune`), evaluate (`evaluate`:
FID in the Fashion-MNIST classifier's features, lower is better).
"""

import argparse
import pathlib

import numpy as np

from tfgen import data, io, registry, transfer
from tfgen.errors import TfgenError
from tfgen.evaluation import metrics
from tfgen.evaluation.features import get_extractor
from tfgen.models import DCGAN


def pretrain(steps, batch_size=64, seed=0, source="dcgan_mnist", quick=False):
    """Article `pretrain(...)`: the zoo's DCGAN trained on MNIST when it is installed (5,000
    steps, `scripts/train_dcgan_mnist.py`), else a DCGAN trained here for `steps` steps."""
    if source and (pathlib.Path(source).exists() or source in registry.zoo_entries()):
        print(f"pretrained model: {source} (tfgen.transfer.load_for_finetuning)")
        return transfer.load_for_finetuning(source)
    print(f"pretraining a DCGAN on MNIST for {steps} steps")
    model = DCGAN(g_width=8, d_width=8, seed=seed) if quick else DCGAN(seed=seed)
    model.compile()
    model.fit(
        data.load("mnist", batch_size=batch_size, seed=seed).repeat(),
        steps_per_epoch=steps,
        epochs=1,
        verbose=0 if quick else 2,
        shuffle=False,  # the dataset shuffles itself
    )
    return model


def fine_tune(model, steps, freeze_d=1, freeze_g=1, batch_size=64, seed=0, verbose=2):
    """Article `fine_tune(...)`: freeze the generic layers, train the rest on the new data.

    FreezeD (Mo et al. 2020) keeps the discriminator's lowest blocks (edges, strokes) fixed;
    freezing the generator's coarsest block keeps the latent-to-layout mapping. Frozen
    BatchNormalization layers also keep their statistics (they run in inference mode).
    """
    frozen = transfer.apply_recipe(model, freeze_d=freeze_d, freeze_g=freeze_g)
    transfer.trainable_summary(model)
    model.compile()  # after freezing: the optimizers are built for what still trains
    model.fit(
        data.load("fashion_mnist", batch_size=batch_size, seed=seed).repeat(),
        steps_per_epoch=steps,
        epochs=1,
        verbose=verbose,
        shuffle=False,
    )
    return frozen


def evaluate(model, real_features, extractor, n=2000, seed=123):
    """FID of `n` samples against the real Fashion-MNIST test features."""
    return metrics.fid(real_features, extractor.features(model.generate(n, seed=seed)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="dcgan_mnist", help="zoo name, .keras, or ''")
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=600, help="fine-tuning steps")
    parser.add_argument("--freeze-d", type=int, default=1)
    parser.add_argument("--freeze-g", type=int, default=1)
    parser.add_argument("--n-eval", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/article_4_4")
    parser.add_argument("--quick", action="store_true", help="a few steps (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pretrain_steps, args.steps, args.n_eval = 2, 2, 200
    out = pathlib.Path(args.out)

    model = pretrain(args.pretrain_steps, seed=args.seed, source=args.source, quick=args.quick)
    pretrained = {k: w.numpy() for k, w in transfer.weights_by_path(model).items()}
    try:
        extractor = get_extractor("fashion_mnist")
        test_images, _ = data.load_arrays("fashion_mnist", "test")
        real = np.random.default_rng(args.seed).permutation(test_images)[: args.n_eval]
        real_features = extractor.features(real)
    except TfgenError as e:  # the evaluation classifier is not in this zoo
        print(f"no evaluation: {e}")
        extractor = None
    fid_before = evaluate(model, real_features, extractor, args.n_eval) if extractor else None
    io.save_images(model.generate(64, seed=args.seed), out / "before.png")

    frozen = fine_tune(
        model, args.steps, args.freeze_d, args.freeze_g, seed=args.seed,
        verbose=0 if args.quick else 2,
    )  # fmt: skip
    fid_after = evaluate(model, real_features, extractor, args.n_eval) if extractor else None
    io.save_images(model.generate(64, seed=args.seed), out / "after.png")

    unchanged = [
        path
        for path, w in transfer.weights_by_path(model).items()
        if np.array_equal(pretrained[path], w.numpy())
    ]
    print(f"frozen layers: {', '.join(frozen)}")
    print(f"{len(unchanged)} of {len(pretrained)} weights unchanged by fine-tuning (the frozen)")
    if extractor:
        print(
            f"FID vs Fashion-MNIST test: before fine-tuning {fid_before:.2f}, after "
            f"{args.steps} steps {fid_after:.2f}"
        )
    print(f"wrote {out / 'before.png'} and {out / 'after.png'}")
    return {
        "model": model,
        "frozen": frozen,
        "pretrained_weights": pretrained,
        "fid_before": fid_before,
        "fid_after": fid_after,
    }


if __name__ == "__main__":
    main()
