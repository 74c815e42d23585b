"""tfgen.inference.run: the traced, chunked replacement of `predict` for sampling."""

import keras
import numpy as np
import pytest

from tfgen import inference
from tfgen.networks import cgan as cgan_networks
from tfgen.networks import dcgan as dcgan_networks


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(0)
    return dcgan_networks.build_generator((28, 28, 1), latent_dim=8, width=8)


def test_matches_predict_across_chunks(generator):
    z = np.random.default_rng(0).normal(size=(11, 8)).astype(np.float32)
    expected = generator.predict(z, batch_size=4, verbose=0)
    got = inference.run(generator, z, batch_size=4)  # chunks of 4, 4 and 3 rows
    assert isinstance(got, np.ndarray) and got.shape == (11, 28, 28, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Inference mode: BatchNorm uses its moving statistics, so a row does not depend on the
    # others in its chunk.
    np.testing.assert_allclose(inference.run(generator, z[3:4]), expected[3:4], atol=1e-5)


def test_reuses_one_traced_call_per_network(generator):
    z = np.zeros((5, 8), np.float32)
    inference.run(generator, z, batch_size=2)
    call = inference._CALLS[generator]
    inference.run(generator, z, batch_size=3)
    assert inference._CALLS[generator] is call
    # Full chunks and the remainder: at most two traces (the second relaxes the batch dim).
    assert call.experimental_get_tracing_count() <= 2


def test_several_inputs_and_no_rows():
    keras.utils.set_random_seed(1)
    generator = cgan_networks.build_conditional_generator(
        (28, 28, 1), num_classes=3, latent_dim=4, width=8, embedding_dim=2
    )
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1], np.int32)
    expected = generator.predict([z, labels], verbose=0)
    np.testing.assert_allclose(inference.run(generator, [z, labels], 2), expected, atol=1e-5)
    with pytest.raises(ValueError, match="at least one row"):
        inference.run(generator, [z[:0], labels[:0]])


def test_rejects_a_bad_batch_size(generator):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        inference.run(generator, np.zeros((1, 8), np.float32), batch_size=0)
