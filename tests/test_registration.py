"""`import tfgen` registers every serializable class (plain `keras.saving.load_model` works),
while the `tfgen` console script answers `--help` and usage errors without TensorFlow."""

import pathlib
import subprocess
import sys

import pytest

ZOO = pathlib.Path(__file__).resolve().parent.parent / "savedmodels"
RECIPE = ZOO.parent / "recipes" / "dcgan_mnist.toml"
KINDS = ("dcgan", "cgan", "wgan_gp", "vae", "pix2pix", "cyclegan")


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def test_import_tfgen_then_keras_load_model_opens_every_kind():
    files = sorted(
        str(p) for p in ZOO.glob("*/*.keras") if p.parent.name.split("_")[0] != "classifier"
    )
    code = (
        "import sys, tfgen, keras\n"
        f"for path in {files!r}:\n"
        "    model = keras.saving.load_model(path, compile=False)\n"
        "    print(type(model).__module__, type(model).__name__, model.kind)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = {line.split()[-1] for line in result.stdout.splitlines()}
    assert kinds == set(KINDS), result.stdout


LAUNCH = (
    "import sys, tfgen_launcher\n"
    "code = tfgen_launcher.main({argv!r})\n"
    "print('TF', 'tensorflow' in sys.modules, 'CODE', code)\n"
)


@pytest.mark.parametrize(
    "argv, code",
    [
        (["--help"], None),
        (["train", "--help"], None),
        (["train", "nosuchkind", "--dataset", "mnist", "--out", "x"], 2),
        (["train", "dcgan", "--dataset", "mnist", "--out", "x", "--option", "bogus=1"], 2),
        (["train", "dcgan", "--dataset", "mnist", "--out", "x", "--steps", "0"], 2),
        (["train", "dcgan", "--dataset", "mnist", "--out", "x", "--precision", "fp8"], 2),
        (["finetune", "dcgan_mnist", "--dataset", "mnist", "--out", "x", "--freeze-g", "-1"], 2),
        (["frobnicate"], 2),
        (["train", "--config", str(RECIPE), "--set", "train.stepz=1", "--out", "x"], 2),
        (["train", "--config", str(RECIPE), "--set", "model.g_widht=3", "--out", "x"], 2),
        (["train", "--config", "no/such/recipe.toml", "--out", "x"], 2),
        (["train", "dcgan", "--config", str(RECIPE), "--out", "x"], 2),
        (["train", "--config", str(RECIPE), "--steps", "3", "--out", "x"], 2),
        (["rebuild", "no_such_entry"], 2),
        (["rebuild", "dcgan_mnist", "--set", "train.steps=zero"], 2),
    ],
)
def test_console_script_help_and_usage_errors_do_not_import_tensorflow(argv, code):
    result = _python(
        "try:\n"
        + "".join("    " + line + "\n" for line in LAUNCH.format(argv=argv).splitlines())
        + "except SystemExit as e:\n"
        "    import sys\n"
        "    print('TF', 'tensorflow' in sys.modules, 'EXIT', e.code)\n"
    )
    assert "TF False" in result.stdout, (result.stdout, result.stderr[-2000:])
    if code is not None:
        assert f"CODE {code}" in result.stdout, result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_console_script_points_at_the_launcher():
    setup = (pathlib.Path(__file__).resolve().parent.parent / "setup.cfg").read_text()
    assert "tfgen = tfgen_launcher:main" in setup


def test_list_prints_a_table_of_the_zoo_without_tensorflow():
    result = _python(LAUNCH.format(argv=["list"]))
    assert "TF False" in result.stdout and "CODE 0" in result.stdout, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["name", "kind"])
    assert header.split() == ["name", "kind", "dataset", "image", "headline", "size"]
    row = next(line for line in lines if line.split()[:1] == ["dcgan_mnist"])
    assert row.split()[1:5] == ["dcgan", "mnist", "28x28x1", "fid"]
    assert row.endswith("MB")
    entries = sorted(p.name for p in ZOO.glob("*") if (p / "card.json").is_file())
    assert all(any(line.split()[:1] == [name] for line in lines) for name in entries)
