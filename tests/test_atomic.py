"""Writes interrupted at any point leave the old file (bytes equal) or none, and no leftovers."""

import errno
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, export, io, registry, reliability, saving
from tfgen.errors import TfgenError


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _listing(folder):
    """Every path under `folder`, hidden temporary folders included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def zoo_dcgan():
    return saving.load_model("dcgan_mnist", compile=False)


@pytest.fixture
def tiny_gan():
    model = registry.get_model_class("dcgan")(image_shape=(28, 28, 1), g_width=8, d_width=8)
    model.compile()
    return model


@pytest.mark.parametrize("where", ["in_block", "half_written", "rename"])
def test_atomic_path_keeps_old_file(tmp_path, monkeypatch, where):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old content")
    before = _listing(tmp_path)
    with pytest.raises((OSError, TfgenError)) as info:
        with io.atomic_path(target) as tmp:
            if where == "in_block":
                disk_full()
            with open(tmp, "wb") as f:
                f.write(b"new cont")
                if where == "half_written":
                    disk_full()
                f.write(b"ent")
            if where == "rename":
                monkeypatch.setattr(os, "replace", disk_full)
    assert "No space left on device" in str(info.value)
    assert "free disk space or choose another --out" in str(info.value)
    assert target.read_bytes() == b"old content"
    assert _listing(tmp_path) == before


def test_atomic_path_failure_leaves_no_new_file_or_folders(tmp_path):
    target = tmp_path / "a" / "b" / "grid.png"
    with pytest.raises(TfgenError):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            disk_full()
    assert _listing(tmp_path) == []


def test_folder_swap_failing_puts_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "1"
    target.mkdir()
    (target / "saved_model.pb").write_bytes(b"old graph")
    real_replace = os.replace
    calls = []

    def second_replace_fails(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old folder moved aside; moving the new one in fails
            disk_full()
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_replace_fails)
    with pytest.raises(TfgenError):
        with io.atomic_path(target, is_dir=True) as tmp:
            tmp.mkdir()
            (tmp / "saved_model.pb").write_bytes(b"new graph")
    assert len(calls) == 3  # aside, in (failed), back
    assert (target / "saved_model.pb").read_bytes() == b"old graph"
    assert _listing(tmp_path) == ["1", "1/saved_model.pb"]


def test_png_and_npy_writes_fail_cleanly(tmp_path, monkeypatch):
    from PIL import Image

    images = np.zeros((4, 28, 28, 1), np.float32)
    io.save_images(images, tmp_path / "grid.png")
    io.save_images(images, tmp_path / "grid.npy")
    old_png, old_npy = (tmp_path / "grid.png").read_bytes(), (tmp_path / "grid.npy").read_bytes()
    before = _listing(tmp_path)

    def half_png(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG\r\n")
        disk_full()

    def half_npy(f, *args, **kwargs):
        f.write(b"\x93NUMPY")
        disk_full()

    monkeypatch.setattr(Image.Image, "save", half_png)
    monkeypatch.setattr(np, "save", half_npy)
    white = np.ones((4, 28, 28, 1), np.float32)
    with pytest.raises(TfgenError, match="No space left"):
        io.save_images(white, tmp_path / "grid.png")
    with pytest.raises(TfgenError, match="No space left"):
        io.save_images(white, tmp_path / "grid.npy")
    assert (tmp_path / "grid.png").read_bytes() == old_png
    assert (tmp_path / "grid.npy").read_bytes() == old_npy
    assert _listing(tmp_path) == before


def test_cli_sample_on_full_disk_exits_1_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from PIL import Image

    monkeypatch.setattr(Image.Image, "save", disk_full)
    out = tmp_path / "samples" / "grid.png"
    code = cli.main(["sample", "dcgan_mnist", "--n", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "No space left on device" in err and "free disk space" in err
    assert _listing(tmp_path) == []


def test_saved_model_export_failing_keeps_old_version(tmp_path, monkeypatch, zoo_dcgan):
    base = tmp_path / "dcgan"
    first = export.saved_model(zoo_dcgan, base, version=1)
    old = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    before = _listing(tmp_path)
    real_save = tf.saved_model.save

    def crash_mid_export(obj, export_dir, *args, **kwargs):
        real_save(obj, export_dir, *args, **kwargs)  # a complete folder, then the disk fills
        with open(os.path.join(export_dir, "saved_model.pb"), "ab") as f:
            f.write(b"garbage")
        disk_full()

    monkeypatch.setattr(tf.saved_model, "save", crash_mid_export)
    with pytest.raises(TfgenError):
        export.saved_model(zoo_dcgan, base, version=1, overwrite=True)
    with pytest.raises(TfgenError):
        export.saved_model(zoo_dcgan, base)  # would be version 2
    assert _listing(tmp_path) == before
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == old


def test_model_file_save_failing_keeps_old_model(tmp_path, monkeypatch, tiny_gan):
    target = tmp_path / "model.keras"
    with io.atomic_path(target) as tmp:
        tiny_gan.save(tmp)
    old = target.read_bytes()
    before = _listing(tmp_path)
    real_save = keras.saving.save_model

    def half_save(model, filepath, *args, **kwargs):
        real_save(model, filepath, *args, **kwargs)
        with open(filepath, "r+b") as f:
            f.truncate(100)  # the zip is cut short, as by a full disk
        disk_full()

    monkeypatch.setattr(keras.saving, "save_model", half_save)
    monkeypatch.setattr(keras.Model, "save", lambda self, path, **kw: half_save(self, path))
    with pytest.raises(TfgenError):
        with io.atomic_path(target) as tmp:
            tiny_gan.save(tmp)
    assert target.read_bytes() == old
    assert _listing(tmp_path) == before
    assert saving.load_model(target, compile=False).generator.count_params() > 0


def test_temporaries_of_a_killed_write_are_removed_on_resume(tmp_path, tiny_gan):
    folder = tmp_path / "checkpoints"
    checkpoint = reliability.StepCheckpoint(folder, steps_per_epoch=10)
    checkpoint.set_model(tiny_gan)
    checkpoint.save(10)
    # What a SIGKILL inside `atomic_path` leaves: its hidden folder with a partial file.
    stale = folder / ".step_00000013.weights.h5.abc123.tmp"
    stale.mkdir()
    (stale / "step_00000013.weights.h5").write_bytes(b"partial")
    assert reliability.StepCheckpoint(folder, steps_per_epoch=10).restore(tiny_gan) == 10
    assert _listing(tmp_path) == [
        "checkpoints",
        "checkpoints/step_00000010.weights.h5",
        f"checkpoints/{reliability.METADATA}",
    ]


@pytest.mark.parametrize("fail", ["weights", "weights_rename", "metadata_rename"])
def test_checkpoint_failing_keeps_previous_checkpoint(tmp_path, monkeypatch, tiny_gan, fail):
    folder = tmp_path / "checkpoints"
    checkpoint = reliability.StepCheckpoint(folder, steps_per_epoch=10, every=2)
    checkpoint.set_model(tiny_gan)
    checkpoint.save(2)
    old_meta = (folder / reliability.METADATA).read_bytes()
    old_weights = (folder / "step_00000002.weights.h5").read_bytes()
    before = _listing(tmp_path)
    kernel = tiny_gan.generator.trainable_weights[0]
    saved_kernel = kernel.numpy()
    kernel.assign(saved_kernel + 1.0)

    real_replace = os.replace
    if fail == "weights":
        monkeypatch.setattr(keras.Model, "save_weights", lambda self, path, **kw: disk_full())
    else:

        def replace(src, dst):
            is_meta = str(dst).endswith(reliability.METADATA)
            if is_meta == (fail == "metadata_rename"):
                disk_full()
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(TfgenError):
        checkpoint.save(4)
    monkeypatch.undo()
    assert (folder / reliability.METADATA).read_bytes() == old_meta
    assert (folder / "step_00000002.weights.h5").read_bytes() == old_weights
    assert _listing(tmp_path) == before
    # The run restarts from step 2 with the weights it had then.
    restarted = reliability.StepCheckpoint(folder, steps_per_epoch=10, every=2)
    assert restarted.restore(tiny_gan) == 2
    np.testing.assert_array_equal(kernel.numpy(), saved_kernel)
    assert json.loads(old_meta)["weights"] == "step_00000002.weights.h5"
