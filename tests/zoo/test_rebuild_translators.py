"""`tfgen rebuild` of the emoji translators: scored against the true drawings, both ways for a
CycleGAN, with an input | output | truth picture (tiny runs of the real recipes)."""

import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from tfgen.zoo import card as card_lib
from tfgen.zoo import rebuild

ZOO = pathlib.Path(__file__).resolve().parents[2] / "savedmodels"
TINY = ["train.steps=2", "train.batch_size=4", "data.limit=16", "evaluate.n=24",
        "model.g_width=8", "model.d_width=8"]  # fmt: skip


def _identity_mae(data_dir, source, truth, n):
    from tfgen.evaluation.paired_translation import paired_test_images

    x, y, _ = paired_test_images(source, truth, "test", data_dir, n)
    return float(np.mean(np.abs(x.astype(np.float64) - y) / 255.0))


@pytest.mark.large  # two rebuilds end to end: ~1 minute
@pytest.mark.parametrize(
    "name, prefixes",
    [("pix2pix_emoji_google2twitter", [""]), ("cyclegan_emoji_google_twitter", ["a2b_", "b2a_"])],
)
def test_rebuild_scores_a_translator_against_the_true_drawings(
    name, prefixes, data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path / "zoo"))
    # The scores need the zoo's extractor; the entry itself is published to tmp_path.
    # (a copy: zoo names may not lead outside the zoo folder)
    shutil.copytree(ZOO / "classifier_emoji", tmp_path / "zoo" / "classifier_emoji")
    overrides = [*TINY, *(["model.n_residual_blocks=1"] if "cyclegan" in name else [])]
    card = rebuild.rebuild(name, overrides, run_dir=tmp_path / "run", data_dir=data_dir,
                           docs_dir=tmp_path / "docs", verbose=0)  # fmt: skip
    assert card_lib.read_card(tmp_path / "zoo" / name) == card
    metrics = card["metrics"]
    identity = _identity_mae(data_dir, "emoji_google", "emoji_twitter", 24)
    for prefix in prefixes:
        assert metrics[f"{prefix}n"] == 24
        # The identity baseline is symmetric: the same pairs, whichever way.
        assert metrics[f"{prefix}identity_mae"] == pytest.approx(identity, rel=1e-4)
        assert metrics[f"{prefix}mae_ratio_to_identity"] == pytest.approx(
            metrics[f"{prefix}translation_mae"] / identity, rel=1e-4
        )
        for share in ("style_share", "style_share_real", "category_kept", "category_kept_real"):
            assert 0.0 <= metrics[f"{prefix}{share}"] <= 1.0
        # The real drawings are scored by the zoo's classifier_emoji: mostly right.
        assert metrics[f"{prefix}style_share_real"] > 0.8
        assert metrics[f"{prefix}fid"] > 0
    assert card["headline"]["metric"] == f"{prefixes[0]}mae_ratio_to_identity"
    assert card["headline"]["better"] == "lower"
    picture = np.asarray(Image.open(tmp_path / "docs" / "images" / "zoo" / f"{name}.png"))
    # 8 rows of two input | output | truth triplets, 64x64 each with 2-pixel gaps.
    assert picture.shape == (8 * 66 + 2, 6 * 66 + 2, 3)
    # Its first triplet: the first test drawing of the inputs' set and its truth, as stored.
    from tfgen.evaluation.paired_translation import paired_test_images

    x, y, _ = paired_test_images("emoji_google", "emoji_twitter", "test", data_dir, 1)
    np.testing.assert_array_equal(picture[2:66, 2:66], x[0])
    np.testing.assert_array_equal(picture[2:66, 2 + 2 * 66 : 2 * 66 + 66], y[0])
