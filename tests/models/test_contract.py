"""The model <-> training-job contract: every registered kind declares what the job reads."""

from tfgen import registry
from tfgen.models.contract import DATA_KINDS, TrainingContract

EXPECTED = {
    # kind: (data_kind, supports_ema, schedules_over_run)
    "dcgan": ("images", True, False),
    "wgan_gp": ("images", True, False),
    "cgan": ("labelled", True, False),
    "vae": ("images", False, False),
    "pix2pix": ("paired", True, False),
    "cyclegan": ("unpaired", True, True),
}


def test_every_kind_declares_its_contract():
    registry.get_model_class("dcgan")  # imports the models
    assert set(registry.MODEL_KINDS) == set(EXPECTED)
    for kind, cls in registry.MODEL_KINDS.items():
        assert issubclass(cls, TrainingContract), kind
        assert cls.data_kind in DATA_KINDS, kind
        declared = (cls.data_kind, cls.supports_ema, cls.schedules_over_run)
        assert declared == EXPECTED[kind], kind


def test_no_model_keeps_the_old_probed_hooks():
    registry.get_model_class("dcgan")
    old = ("make_dataset", "options_from_data", "sample_callback", "two_domains", "needs_labels")
    for kind, cls in registry.MODEL_KINDS.items():
        assert not [name for name in old if hasattr(cls, name)], kind
