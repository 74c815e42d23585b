"""What a model declares to the training job, with the defaults in one place.

The job reads these class attributes instead of probing a model for optional methods.
"""

DATA_KINDS = ("images", "labelled", "paired", "unpaired")


class TrainingContract:
    """The declarations the training job (`tfgen.training.train`) reads from a model class.

    A model class inherits these defaults and overrides what differs:

    - `data_kind`: what one training batch holds, and so how the job loads `--dataset`:
      `"images"` (images alone, `tfgen.data.load`), `"labelled"` (`(images, labels)`, labels
      checked against the model's `num_classes`), `"paired"` (`(input, target)` pairs: a
      paired folder, or pairs derived by `--task`, `tfgen.data.paired.load`) or
      `"unpaired"` (`(images_a, images_b)` of two domains, `--dataset` and `--dataset-b`,
      `tfgen.data.load_unpaired`). It also decides the options the data sets (a paired
      model's `output_channels` and `task`, an unpaired model's `image_shape_b`) and the
      run's picture: a `SampleGrid` from fixed noise for `"images"` and `"labelled"`, a
      translation grid of one fixed batch for `"paired"` and `"unpaired"`.
    - `supports_ema`: whether the model can keep an EMA of its generator (`--ema`): what
      samples (and what `--monitor` samples from, for noise-to-image models) or translates.
    - `schedules_over_run`: whether `compile` takes `total_steps`, the run's length, for a
      learning rate that follows it (CycleGAN's linear decay to 0).
    - `optimizer_slots`: the attributes (and `compile` arguments) holding the model's
      optimizers, which a recipe's `[optimizer]` table rebuilds from their defaults.

    `tests/models/test_contract.py` checks every registered kind's declarations.
    """

    data_kind = "images"
    supports_ema = False
    schedules_over_run = False
    optimizer_slots = ("optimizer",)
