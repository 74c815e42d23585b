"""`--precision auto` picks mixed_bfloat16 only where the device has fast bfloat16."""

import json

import pytest

from tfgen import hardware


@pytest.mark.parametrize(
    "tpus, gpus, flags, expected",
    [
        (0, [], {"avx512f", "avx512_bf16"}, "float32"),  # AMD EPYC: bf16 instructions, no AMX
        (0, [], {"amx_bf16", "amx_tile"}, "mixed_bfloat16"),  # Xeon with AMX-BF16
        (0, [(7, 5)], {"amx_bf16"}, "float32"),  # a T4 runs the model, not the CPU
        (0, [(8, 0), (9, 0)], set(), "mixed_bfloat16"),
        (8, [], set(), "mixed_bfloat16"),
    ],
)
def test_auto_precision_follows_the_device(monkeypatch, tpus, gpus, flags, expected):
    monkeypatch.setattr(hardware, "accelerators", lambda: (tpus, gpus))
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    chosen, why = hardware.auto_precision()
    assert chosen == expected and why


def test_a_run_on_a_cpu_without_amx_stays_float32_and_says_why(monkeypatch, tmp_path, data_dir):
    from tfgen import config
    from tfgen.training import job

    monkeypatch.setattr(hardware, "accelerators", lambda: (0, []))
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2"}))
    recipe = config.from_dict({
        "model": {"kind": "dcgan", "g_width": 4, "d_width": 4},
        "data": {"dataset": "mnist", "limit": 32, "data_dir": str(data_dir)},
        "train": {"steps": 1, "batch_size": 16, "precision": "auto"},
    })  # fmt: skip
    model = job.run(recipe, tmp_path, verbose=0)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["precision"] == "float32" and "without AMX-BF16" in run["precision_auto"]
    assert model.generator.compute_dtype == "float32"
