"""The recipe schema: defaults, TOML loading, --set overrides and one-line usage errors."""

import pytest

from tfgen import config, kinds
from tfgen.errors import TfgenUsageError


def write(tmp_path, text):
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


BASE = '[model]\nkind = "dcgan"\ng_width = 16\n[data]\ndataset = "mnist"\n'


def test_defaults_fill_what_a_recipe_leaves_out(tmp_path):
    recipe = config.load(write(tmp_path, BASE))
    assert recipe.kind == "dcgan" and recipe.options == {"g_width": 16}
    assert recipe.train.batch_size == 64 and recipe.train.precision == "float32"
    assert recipe.train.steps is None and recipe.evaluate.n == 1000


def test_set_overrides_parse_toml_values(tmp_path):
    path = write(tmp_path, BASE)
    recipe = config.load(path, ["train.steps=200", "model.ema=0.999", "data.dataset=fashion_mnist",
                                "optimizer.learning_rate=1e-4", "train.deterministic=true"])  # fmt: skip
    assert recipe.train.steps == 200 and recipe.options["ema"] == 0.999
    assert recipe.data.dataset == "fashion_mnist" and recipe.optimizer.learning_rate == 1e-4
    assert recipe.train.deterministic is True


@pytest.mark.parametrize(
    "extra, overrides, message",
    [
        ("[train]\nstepz = 3\n", (), "unknown key train.stepz"),
        ("[train]\nsteps = 'many'\n", (), "train.steps: expected int, got 'many'"),
        ("[train]\nsteps = 0\n", (), "train.steps must be >= 1"),
        ("[train]\nprecision = 'half'\n", (), "train.precision: 'half' is not one of"),
        ("[trian]\nsteps = 3\n", (), "unknown key 'trian'"),
        ("", ("model.widht=3",), "unknown key model.widht for dcgan"),
        ("", ("model.kind=gan",), "unknown kind 'gan'"),
        ("", ("steps=3",), "--set expects section.key=value"),
        ("", ("train.steps=3", "train.epochs=2"), "not both"),
        ("[optimizer]\nschedule = 'piecewise'\nvalues = [1e-4]\nboundaries = [10]\n", (),
         "one more rate"),
    ],
)  # fmt: skip
def test_bad_recipes_are_one_line_errors_naming_key_and_file(tmp_path, extra, overrides, message):
    path = write(tmp_path, BASE + extra)
    with pytest.raises(TfgenUsageError, match=message) as info:
        config.load(path, overrides)
    assert "\n" not in str(info.value)
    if not overrides or "--set" not in str(info.value):
        assert str(path) in str(info.value)


def test_a_missing_file_and_bad_toml_are_usage_errors(tmp_path):
    with pytest.raises(TfgenUsageError, match="not found"):
        config.load(tmp_path / "none.toml")
    with pytest.raises(TfgenUsageError, match="not valid TOML"):
        config.load(write(tmp_path, "[model\n"))


def test_defaults_table_documents_every_key():
    table = config.defaults_table()
    for name, cls in config._TABLES.items():
        for field in cls.__dataclass_fields__:
            assert f"| {name}.{field} |" in table


def test_model_options_table_matches_the_constructors():
    import inspect

    from tfgen import registry

    python_objects = {"generator", "discriminator", "encoder", "decoder", "generator_a2b",
                      "generator_b2a", "discriminator_a", "discriminator_b"}  # fmt: skip
    for kind in kinds.MODEL_KINDS:
        cls = registry.get_model_class(kind)
        names = set()
        for klass in cls.__mro__:
            if klass.__module__.startswith("tfgen") and "__init__" in vars(klass):
                for name, p in inspect.signature(klass.__init__).parameters.items():
                    if p.kind == p.POSITIONAL_OR_KEYWORD and name not in ("self", "image_shape",
                                                                          "seed"):  # fmt: skip
                        names.add(name)
        assert set(kinds.MODEL_OPTIONS[kind]) == names - python_objects, kind
    assert set(kinds.MODEL_KINDS) == set(registry.MODEL_KINDS)
