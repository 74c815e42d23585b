"""Ending a run early: on a validation figure that stopped improving, or on a time budget.

Both stop at an epoch's end, so the saved model is one `fit` epoch boundary, like any other.
"""

import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the epoch that crosses `minutes` of wall time."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = float(minutes) * 60.0
        self.start = None

    def on_train_begin(self, logs=None):
        if self.start is None:  # a resumed run's second `fit` keeps the first one's clock
            self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self.start > self.seconds:
            print(f"time budget of {self.seconds / 60:.1f} min reached after epoch {epoch + 1}")
            self.model.stop_training = True


def callbacks(train):
    """The stopping callbacks a recipe's `[train]` table asks for (`tfgen.config.Train`)."""
    found = []
    if train.early_stopping:
        found.append(
            keras.callbacks.EarlyStopping(
                monitor=train.early_stopping_monitor,
                mode=train.early_stopping_mode,
                patience=train.early_stopping,
                restore_best_weights=True,
                start_from_epoch=train.early_stopping_start,
            )
        )
    if train.max_minutes is not None:
        found.append(TimeBudget(train.max_minutes))
    return found
