"""A catalogue of bad inputs: each gets an error saying what was wrong and what to do, the CLI
exits 2 (usage) or 1 (runtime) with one line and no traceback, and nothing is written."""

import errno
import os

import numpy as np
import pytest

from tfgen import cli, data, export, registry, saving, transfer
from tfgen.errors import TfgenError, TfgenUsageError


@pytest.fixture
def bad(tmp_path):
    """A folder of bad input files; returns it (`{t}` in the cases below)."""
    (tmp_path / "file").write_text("a regular file, not a folder")
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "garbage.keras").write_bytes(b"PK\x03\x04 cut short")
    (tmp_path / "empty_folder").mkdir()
    np.save(tmp_path / "grey.npy", np.zeros((2, 28, 28, 1), np.uint8))
    np.save(tmp_path / "rgb.npy", np.zeros((2, 28, 28, 3), np.uint8))
    np.save(tmp_path / "none.npy", np.zeros((0, 28, 28, 1), np.uint8))
    np.save(tmp_path / "rank2.npy", np.zeros((28, 28), np.uint8))
    np.save(tmp_path / "range.npy", np.linspace(-5, 300, 2 * 28 * 28).reshape(2, 28, 28, 1))
    np.savez(tmp_path / "no_x.npz", images=np.zeros((20, 28, 28, 1), np.uint8))
    np.savez(tmp_path / "labels12.npz", x=np.zeros((20, 28, 28, 1), np.uint8), y=np.full(20, 12))
    np.savez(tmp_path / "two_channels.npz", x=np.zeros((20, 28, 28, 2), np.uint8))
    (tmp_path / "idx").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "idx" / name).write_bytes(b"not gzip")
    (tmp_path / "exported" / "1").mkdir(parents=True)
    (tmp_path / "exported" / "1" / "saved_model.pb").write_bytes(b"an existing version")
    return tmp_path


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


T = "train dcgan --dataset mnist --out {t}/out"
S = "sample dcgan_mnist --n 2"
P = "translate pix2pix_fashion_superres --out {t}/out.png --input"
# (id, command, exit code, key words of the message: what was wrong ... what to do)
CLI_CASES = [
    ("no_command", "", 2, ["no command given", "--help"]),
    ("unknown_kind", "train nosuchkind --dataset mnist --out {t}/out", 2,
     ["unknown model kind 'nosuchkind'", "choose one of", "dcgan"]),
    ("unknown_dataset", "train dcgan --dataset no_such_data --out {t}/out", 2,
     ["unknown dataset 'no_such_data'", "pass a tfds name"]),
    ("steps_zero", T + " --steps 0", 2, ["--steps must be >= 1", "got 0"]),
    ("epochs_negative", T + " --epochs -1", 2, ["--epochs must be >= 1", "got -1"]),
    ("batch_size_zero", T + " --batch-size 0", 2, ["--batch-size must be >= 1", "got 0"]),
    ("checkpoint_every_zero", T + " --checkpoint-every 0", 2, ["--checkpoint-every must be >= 1"]),
    ("limit_zero", T + " --limit 0", 2, ["--limit must be >= 1", "drop it"]),
    ("option_not_pair", T + " --option foo", 2, ["--option expects key=value", "'foo'"]),
    ("option_unknown", T + " --option bogus_arg=3", 2,
     ["unknown --option bogus_arg for dcgan", "its options are", "latent_dim"]),
    ("task_not_pix2pix", T + " --task superres", 2, ["--task superres", "pix2pix"]),
    ("dataset_b_not_cyclegan", T + " --dataset-b mnist", 2, ["--dataset-b", "cyclegan"]),
    ("strategy_unknown", T + " --strategy bogus", 2, ["train.strategy: 'bogus' is not one of", "mirrored"]),
    ("channels_choice", T + " --channels 2", 2, ["invalid choice: 2", "--help"]),
    ("steps_and_epochs", T + " --steps 5 --epochs 1", 2, ["not allowed with", "--help"]),
    ("image_size_unsupported", T + " --image-size 30", 2,
     ["image size 30 is not supported", "use one of"]),
    ("out_under_a_file", "train dcgan --dataset mnist --steps 1 --out {t}/file/run", 2,
     ["cannot create folder", "choose a writable --out"]),
    ("empty_image_folder", "train dcgan --dataset {t}/empty_folder --out {t}/out", 2,
     ["no images found", ".png"]),
    ("npz_without_x", "train dcgan --dataset {t}/no_x.npz --out {t}/out", 2,
     ["has no array 'x'", "np.savez(path, x=images"]),
    ("labels_out_of_range", "train cgan --dataset {t}/labels12.npz --batch-size 4 --out {t}/out",
     2, ["labels in [12, 12], outside [0, 10)", "num_classes=13"]),
    ("two_channel_images", "train dcgan --dataset {t}/two_channels.npz --out {t}/out", 2,
     ["2 channels", "convert the images to grey or rgb"]),
    ("corrupt_idx", "train dcgan --dataset {t}/idx --out {t}/out", 2,
     ["not a readable gzipped idx file", "download or copy it again"]),
    ("pix2pix_unpaired", "train pix2pix --dataset mnist --out {t}/out", 2,
     ["not a paired folder", "--target", "or --task"]),
    ("sample_n_zero", "sample dcgan_mnist --n 0 --out {t}/out.png", 2, ["--n must be >= 1"]),
    ("sample_bad_suffix", S + " --out {t}/out.jpg", 2, ["--out must end in .png", ".npy"]),
    ("label_on_dcgan", S + " --label 3 --out {t}/out.png", 2,
     ["need a label-conditioned model (cgan)", "is a dcgan"]),
    ("label_out_of_range", "sample cgan_mnist --n 2 --label 12 --out {t}/out.png", 2,
     ["labels must be in [0, 10)", "[12]"]),
    ("labels_not_ints", "sample cgan_mnist --labels 1,a --out {t}/out.png", 2,
     ["--labels expects comma-separated integers", "0,1,2"]),
    ("label_and_labels", "sample cgan_mnist --label 1 --labels 1,2 --out {t}/out.png", 2,
     ["not allowed with argument --label"]),
    ("missing_keras_file", "sample {t}/nothere.keras --out {t}/out.png", 2,
     ["does not exist", "pass an existing .keras file"]),
    ("empty_keras_file", "sample {t}/empty.keras --out {t}/out.png", 2,
     ["is not a .keras file", "save the model again"]),
    ("corrupt_keras_file", "sample {t}/garbage.keras --out {t}/out.png", 2,
     ["is not a .keras file", "save the model again"]),
    ("unknown_zoo_name", "sample no_such_entry --out {t}/out.png", 2,
     ["unknown model 'no_such_entry'", "dcgan_mnist"]),
    ("sample_out_under_a_file", S + " --out {t}/file/out.png", 2,
     ["cannot create folder", "choose a writable --out"]),
    ("translate_with_dcgan", "translate dcgan_mnist --input {t}/grey.npy --out {t}/out.png", 2,
     ["does not translate images", "use a pix2pix or cyclegan"]),
    ("translate_wrong_channels", P + " {t}/rgb.npy", 2, ["got (28, 28, 3)", "resize the inputs"]),
    ("translate_no_images", P + " {t}/none.npy", 2, ["holds no images", "pass at least one"]),
    ("translate_missing_input", P + " {t}/nothere.npy", 2, ["does not exist", "pass a .npy"]),
    ("translate_rank2", P + " {t}/rank2.npy", 2, ["shape (28, 28)", "expected n x h x w x c"]),
    ("translate_pixel_range", P + " {t}/range.npy", 2,
     ["pixel values span [-5.0, 300.0]", "expected uint8 [0, 255]"]),
    ("translate_direction_pix2pix", P + " {t}/grey.npy --direction a2b", 2, ["drop --direction"]),
    ("translate_unknown_format", P + " {t}/garbage.keras", 2, ["cannot read", "pass a .npy file"]),
    ("export_tflite_version", "export dcgan_mnist --format tflite --version 2 --out {t}/m.tflite",
     2, ["--version applies to --format saved_model"]),
    ("export_saved_model_quantize", "export dcgan_mnist --quantize int8 --out {t}/out", 2,
     ["--quantize applies to --format tflite"]),
    ("export_version_zero", "export dcgan_mnist --version 0 --out {t}/out", 2,
     ["version must be a positive integer", "got 0"]),
    ("export_existing_version", "export dcgan_mnist --version 1 --out {t}/exported", 2,
     ["already exists", "pass --overwrite"]),
    ("export_classifier", "export classifier_mnist --out {t}/out", 2,
     ["cannot export", "pass a model trained by tfgen"]),
    ("export_representative_zero",
     "export dcgan_mnist --format tflite --quantize int8 --representative 0 --out {t}/m.tflite",
     2, ["--representative must be >= 1"]),
    ("evaluate_unknown_metric", "evaluate dcgan_mnist --dataset mnist --metrics bogus --n 10", 2,
     ["unknown metric(s) 'bogus'", "choose from"]),
    ("evaluate_n_too_small", "evaluate dcgan_mnist --dataset mnist --n 1", 2,
     ["--n must be at least 2"]),
    ("finetune_unknown_source", "finetune no_such_model --dataset mnist --out {t}/out", 2,
     ["unknown model 'no_such_model'", "dcgan_mnist"]),
    ("finetune_freeze_too_many", "finetune dcgan_mnist --dataset mnist --freeze-d 99 --out {t}/out",
     2, ["freeze_d=99", "pass at most 2"]),
    ("finetune_bad_lr_decay",
     "finetune dcgan_mnist --dataset mnist --block-lr-decay -1 --steps 1 --out {t}/out", 2,
     ["learning-rate decay must be in (0, 1]", "-1.0"]),
    ("finetune_checkpoint_every_zero",
     "finetune dcgan_mnist --dataset mnist --checkpoint-every 0 --out {t}/out", 2,
     ["--checkpoint-every must be >= 1"]),
    ("finetune_freeze_d_on_vae", "finetune vae_mnist --dataset mnist --freeze-d 1 --out {t}/out",
     2, ["freeze_d needs a model with a discriminator", "vae has none"]),
    ("models_config_missing_root", "models-config {t}/nothere", 2,
     ["is not a folder", "pass the folder that holds exported models"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "command, code, needles", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_refuses_bad_input(bad, capsys, monkeypatch, data_dir, command, code, needles):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    before = _listing(bad)
    assert cli.main(command.format(t=bad).split()) == code
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err, captured.err[-2000:]
    for needle in needles:
        assert needle.lower() in err.lower(), f"{needle!r} not in {err!r}"
    assert _listing(bad) == before, "a refused command wrote files"


def test_catalogue_is_large_and_distinct():
    ids = [c[0] for c in CLI_CASES]
    assert len(set(ids)) == len(ids) >= 25
    assert len({c[1] for c in CLI_CASES}) == len(CLI_CASES)


def test_debug_shows_the_traceback(bad):
    with pytest.raises(TfgenUsageError, match="does not exist"):
        cli.main(["--debug", "sample", str(bad / "nothere.keras"), "--out", str(bad / "o.png")])


def test_disk_full_while_writing_samples_exits_1(bad, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", disk_full)
    before = _listing(bad)
    out = bad / "new" / "samples.npy"
    assert cli.main(["sample", "dcgan_mnist", "--n", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    assert "free disk space or choose another --out" in err
    assert _listing(bad) == before


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unwritable_output_folder(bad, capsys):
    locked = bad / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        # root writes through permission bits: a path under a regular file is unwritable for all
        out = bad / "file" / "out.png"
    else:
        locked.chmod(0o500)
        out = locked / "out.png"
    try:
        assert cli.main(["sample", "dcgan_mnist", "--n", "2", "--out", str(out)]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert "choose a writable --out" in err and not out.exists()
    assert not any(p.name.endswith(".tmp") for p in bad.rglob("*"))


# ------------------------------------------------------------------ the library, no CLI
@pytest.fixture(scope="module")
def zoo():
    return {
        name: saving.load_model(name, compile=False)
        for name in ("dcgan_mnist", "cgan_mnist", "pix2pix_fashion_superres")
    }


def test_generate_refuses_bad_counts_and_latents(zoo):
    gan = zoo["dcgan_mnist"]
    with pytest.raises(TfgenUsageError, match=r"n >= 1 or latent vectors z"):
        gan.generate(0)
    with pytest.raises(TfgenUsageError, match=rf"shape \[n, {gan.latent_dim}\], got \[3, 7\]"):
        gan.generate(z=np.zeros((3, 7), np.float32))


def test_cgan_refuses_labels_out_of_range(zoo):
    with pytest.raises(TfgenUsageError, match=r"labels must be in \[0, 10\)"):
        zoo["cgan_mnist"].generate(3, labels=[0, 1, 10])


def test_fit_refuses_images_of_another_shape(zoo):
    gan = registry.get_model_class("dcgan")(image_shape=(28, 28, 1), g_width=8, d_width=8)
    gan.compile()
    images = np.zeros((8, 32, 32, 3), np.float32)
    with pytest.raises(TfgenUsageError, match=r"got \(32, 32, 3\); load the data with"):
        gan.fit(images, batch_size=4, epochs=1, verbose=0)


def test_translate_refuses_wrong_channels(zoo):
    with pytest.raises(TfgenUsageError, match="resize the inputs"):
        zoo["pix2pix_fashion_superres"].translate(np.zeros((2, 28, 28, 3), np.float32))


def test_loader_refuses_unknown_split(mnist_dir):
    with pytest.raises(TfgenUsageError, match="unknown split 'validation'.*use 'train' or 'test'"):
        data.load_idx(mnist_dir, "validation")


@pytest.mark.parametrize("name", ["..", "../dcgan_mnist", "a/b", "/etc"])
def test_zoo_names_cannot_escape_the_zoo(name):
    with pytest.raises(TfgenUsageError, match="not a valid zoo name|escapes the zoo folder"):
        registry.zoo_path(name)


def test_export_refuses_a_non_tfgen_model(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(TfgenUsageError, match="cannot export a Sequential"):
        export.saved_model(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_transfer_refuses_freezing_every_block(zoo, tmp_path):
    with pytest.raises(TfgenError, match="leave it nothing to train"):
        transfer.apply_recipe(zoo["dcgan_mnist"], freeze_d=3, freeze_g=0, recompile_model=False)
