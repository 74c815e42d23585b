"""Image files with transparency, the named emoji sets, folder pairs by relative path, sizes
checked from headers, and symlinked folders."""

import os
import time

import numpy as np
import pytest
from PIL import Image

from tfgen import data
from tfgen.data import images as images_lib
from tfgen.data import paired
from tfgen.errors import TfgenUsageError


def _rgba(path, colour_under_transparent=(255, 0, 0)):
    """4x4 RGBA: a transparent border holding a loud colour, an opaque blue centre."""
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., :3] = colour_under_transparent
    a[1:3, 1:3] = (0, 0, 255, 255)
    Image.fromarray(a, "RGBA").save(path)


def test_transparent_pixels_become_the_background_not_the_stored_colour(tmp_path):
    _rgba(tmp_path / "x.png")
    white = images_lib.decode(tmp_path / "x.png")
    assert white.shape == (4, 4, 3)
    assert (white[0, 0] == 255).all() and (white[1, 1] == (0, 0, 255)).all()
    black = images_lib.decode(tmp_path / "x.png", images_lib.parse_background("black"))
    assert (black[0, 0] == 0).all()
    assert images_lib.parse_background("#102030") == (16, 32, 48)
    with pytest.raises(TfgenUsageError, match="not a colour"):
        images_lib.parse_background("blue-ish")


def test_palette_and_grey_alpha_files_are_composited(tmp_path):
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    p.putpixel((2, 2), 1)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    decoded = images_lib.decode(tmp_path / "p.png")
    assert (decoded[0, 0] == 255).all(), "the transparent index shows the background"
    assert (decoded[2, 2] == (255, 255, 0)).all()
    la = np.zeros((4, 4, 2), np.uint8)
    la[1, 1] = (60, 255)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    grey = images_lib.decode(tmp_path / "la.png")
    assert grey.shape == (4, 4, 1) and grey[0, 0, 0] == 255 and grey[1, 1, 0] == 60


def test_emoji_sets_load_by_name_with_categories_on_white(data_dir):
    images, labels = data.load_arrays("emoji_twitter", "test", data_dir_override=data_dir)
    assert images.shape == (332, 64, 64, 3) and images.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 8
    # Twemoji store colours under most transparent pixels: the corners must come out white.
    assert (images[:, 0, 0] == 255).all(axis=-1).mean() > 0.9
    google, google_labels = data.load_arrays("emoji_google", "test", data_dir_override=data_dir)
    assert google.shape == images.shape and (google_labels == labels).all()


def test_emoji_name_without_a_data_folder_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("TFGEN_DATA_DIR", raising=False)
    with pytest.raises(TfgenUsageError, match="--data-dir"):
        data.load_arrays("emoji_google", "train")


def test_pix2pix_pairs_two_named_sets_by_relative_path(data_dir):
    ds = paired.load("emoji_google", target="emoji_twitter", split="test", batch_size=8,
                     shuffle=False, data_dir=data_dir)  # fmt: skip
    x, y = next(iter(ds))
    assert x.shape == (8, 64, 64, 3) and y.shape == (8, 64, 64, 3)
    assert float(np.abs(x - y).mean()) > 0.01, "the two vendors draw differently"
    with pytest.raises(TfgenUsageError, match="not both"):
        paired.load("emoji_google", target="emoji_twitter", task="superres", data_dir=data_dir)


def test_unmatched_names_name_an_example(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side / "cat").mkdir(parents=True)
        _rgba(tmp_path / side / "cat" / "one.png")
    _rgba(tmp_path / "a" / "cat" / "two.png")
    with pytest.raises(TfgenUsageError, match=r"1 image\(s\).*cat/two in .*a"):
        paired.load(str(tmp_path / "a"), target=str(tmp_path / "b"), batch_size=1)


def test_mismatched_sizes_are_refused_from_headers_before_decoding(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "big.png")
    for i in range(300):
        Image.new("RGB", (4, 4)).save(tmp_path / f"small{i:03d}.png")
    start = time.perf_counter()
    with pytest.raises(TfgenUsageError, match=r"big.png is 8x8, small000.png is 4x4") as info:
        data.load_image_folder(tmp_path)
    assert "\n" not in str(info.value) and "--image-size" in str(info.value)
    # Decoding is what took 11.6 s on the emoji; headers alone are a small fraction of that.
    assert time.perf_counter() - start < 5


def test_symlinked_folders_are_followed_by_every_loader(tmp_path):
    real = tmp_path / "real" / "cat"
    real.mkdir(parents=True)
    _rgba(real / "one.png")
    _rgba(real / "two.png")
    (tmp_path / "linked").mkdir()
    os.symlink(real, tmp_path / "linked" / "cat")
    images, labels, names = data.load_image_folder(tmp_path / "linked")
    assert len(images) == 2 and names == ["cat"]
    (tmp_path / "other").mkdir()
    os.symlink(real, tmp_path / "other" / "cat")
    x, y, pair_names = paired.load_paired_folders(tmp_path / "linked", tmp_path / "other")
    assert pair_names == ["cat/one", "cat/two"]
