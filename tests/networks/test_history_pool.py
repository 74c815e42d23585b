"""`tfgen.networks.history_pool.HistoryPool`: fills then swaps per draw, sequentially within a
batch, returns old images half the time, and passes images through at size 0."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.networks.history_pool import HistoryPool


def numbered(n, shape=(2, 2, 1), start=0):
    """Images whose every pixel holds their number, so a returned image says where it came from."""
    return np.stack([np.full(shape, start + i, np.float32) for i in range(n)])


def ids(batch):
    return [int(v) for v in np.asarray(batch)[:, 0, 0, 0]]


def test_pool_returns_new_images_until_full_then_swaps_per_draw():
    pool = HistoryPool((2, 2, 1), size=3)
    keep = np.array([[0.9, 0.0]] * 2, np.float32)  # u0 >= 0.5: no swap once full
    np.testing.assert_array_equal(ids(pool.query(numbered(2), keep)), [0, 1])
    assert int(pool.count.numpy()) == 2
    # Slot 2 fills; then the pool is full and the draws decide.
    draws = np.array([[0.9, 0.0], [0.9, 0.0], [0.1, 0.5]], np.float32)
    out = pool.query(numbered(3, start=10), draws)
    # 10 fills the last slot; 11 is kept (u0 >= 0.5); 12 swaps with slot int(0.5 * 3) = 1.
    assert ids(out) == [10, 11, 1]
    assert sorted(ids(pool.images.numpy())) == [0, 10, 12]
    assert int(pool.count.numpy()) == 3


def test_pool_is_sequential_within_a_batch():
    pool = HistoryPool((2, 2, 1), size=2)
    # 0 and 1 fill the pool; 2 swaps into slot 0 (returns 0); 3 swaps into slot 0 too and
    # gets 2 back: the image stored earlier in the same batch.
    draws = np.array([[0.0, 0.0], [0.0, 0.0], [0.2, 0.1], [0.3, 0.2]], np.float32)
    assert ids(pool.query(numbered(4), draws)) == [0, 1, 0, 2]
    assert ids(pool.images.numpy()) == [3, 1]


def test_pool_returns_old_images_half_the_time_and_never_holds_more_than_50():
    from tfgen import distribute

    pool = HistoryPool((2, 2, 1), size=50)
    query = tf.function(pool.query)  # the graph path that train_step uses
    query(numbered(50), np.zeros((50, 2), np.float32))  # fill with 0..49
    returned_old = 0
    for step in range(40):
        batch = numbered(50, start=1000 * (step + 1))
        draws = distribute.replica_uniform(50, [2], seed=3, step=step)
        out = ids(query(batch, draws))
        returned_old += sum(1 for v, new in zip(out, ids(batch)) if v != new)
        assert pool.images.shape[0] == 50
        assert int(pool.count.numpy()) == 50
        # Whatever is returned is either the new image or one the pool held.
        assert len(set(ids(pool.images.numpy()))) == 50
    share = returned_old / (40 * 50)
    assert 0.45 < share < 0.55  # 2000 draws: sd of the share ~0.011


def test_pool_size_zero_passes_images_through():
    pool = HistoryPool((2, 2, 1), size=0)
    batch = numbered(3)
    np.testing.assert_array_equal(pool.query(batch, np.zeros((3, 2), np.float32)), batch)
    with pytest.raises(TfgenUsageError, match="pool size"):
        HistoryPool((2, 2, 1), size=-1)
