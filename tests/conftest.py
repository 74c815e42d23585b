"""Shared fixtures: the real data beside the project, fixed seeds, quiet TensorFlow."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = pathlib.Path(os.environ.get("TFGEN_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder (../shared/data), which holds mnist/ and fashion_mnist/."""
    assert (SHARED_DATA / "mnist").is_dir(), f"real data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_dir(data_dir):
    return data_dir / "mnist"


@pytest.fixture(scope="session")
def fashion_dir(data_dir):
    return data_dir / "fashion_mnist"


@pytest.fixture(scope="session")
def mnist_test_arrays(mnist_dir):
    """Real MNIST test digits as (uint8 [N, 28, 28, 1], int32 [N])."""
    from tfgen.data import load_idx

    return load_idx(mnist_dir, "test")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
