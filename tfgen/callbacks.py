"""Training callbacks: sample grids (PNG + TensorBoard) and checkpoint helpers."""

import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfgen import io


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from fixed latent vectors after every epoch.

    The same latent vectors are used every epoch so the grids show how training moves.

    Args:
        out_dir: str. Folder for `epoch_XXX.png`.
        n: int. Images per grid. Defaults to 64.
        seed: int. Seed of the fixed latent vectors.
        log_dir: str or None. Also writes the grid as a TensorBoard image summary.
    """

    def __init__(self, out_dir, n=64, seed=0, log_dir=None):
        super().__init__()
        self.out_dir = pathlib.Path(out_dir)
        self.n = n
        self.seed = seed
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.n, seed=self.seed)
        grid = io.image_grid(io.to_uint8(images))
        io.save_png(grid, self.out_dir / f"epoch_{epoch + 1:03d}.png")
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                tf.summary.image("samples", grid[None].astype(np.uint8), step=epoch + 1)
            self._writer.flush()
