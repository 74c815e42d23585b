"""The training job and what it is made of: `job` (data, model, `fit`, the run folder),
`callbacks`, `checkpoint` (step checkpoints and exact resume) and `monitor` (training health).

`tfgen.training.train` is the job; its helpers stay reachable here under their old names.
"""

from tfgen.training.inputs import options_from_data
from tfgen.training.job import (
    FLAG_OPTIONS,
    finish_run,
    make_dataset,
    open_run_folder,
    plan_steps,
    restore_checkpoint,
    sample_callback,
    train,
)

__all__ = [
    "FLAG_OPTIONS",
    "finish_run",
    "make_dataset",
    "open_run_folder",
    "options_from_data",
    "plan_steps",
    "restore_checkpoint",
    "sample_callback",
    "train",
]
