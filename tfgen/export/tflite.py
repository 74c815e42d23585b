"""TFLite/LiteRT conversion of every model kind at four quantization levels.

`convert(model, path, quantize=...)` writes a `.tflite` file whose named signatures mirror the
SavedModel's float32 ones; run it with `ai_edge_litert.interpreter.Interpreter`.

How and why:

- Float I/O everywhere, int8 included: `int8` quantizes weights *and* activations (full-integer
  kernels, `TFLITE_BUILTINS_INT8` only), but keeps float32 inputs and outputs with one
  QUANTIZE/DEQUANTIZE op at each end. Clients then feed the same tensors to every variant and
  never handle scales or zero points; the two extra ops cost little next to the convolutions.
- Fixed batch (default 1, the usual on-device case): Keras' `UpSampling2D` reshapes with
  shapes computed at run time, and with a free batch dimension the converter loses the height
  of the up-sampled maps and cannot lower the next `Conv2D` to a TFLite kernel. A fixed batch
  makes every shape static. Pass `batch_size=N` for a model that takes N rows at a time.
- Keras 3 variables are not frozen by the TFLite converter (they would become resource
  variables that the interpreter never initializes), so each signature is frozen to constants
  first (`convert_variables_to_constants_v2`) and the frozen functions are converted from a
  SavedModel of their own, which keeps the signature names.
- int8 calibrates on a representative set: latent vectors drawn from N(0, I) and class labels
  drawn uniformly (generators), and real images for the image inputs of pix2pix and CycleGAN
  (`representative_images`). A VAE's encoder is calibrated on the decoder's images of prior
  samples when no images are given. Up-sampling is UpSampling2D + Conv2D throughout tfgen (no
  Conv2DTranspose), which full-integer conversion handles.

Signatures (float32 inputs and outputs; B = the fixed batch size):

- dcgan, wgan_gp: `serving_default` `z` [B, latent_dim] -> `images` [B, H, W, C].
- cgan: `serving_default` `z` [B, latent_dim], `label` int32 [B] -> `images`.
- pix2pix: `serving_default` `images` [B, H, W, C_in] -> `images` [B, H, W, C_out].
- cyclegan: `a2b` and `b2a`, `images` -> `images`.
- vae: `decode` `z` -> `images`; `encode` `images` -> `mean`, `scale`.
"""

import pathlib
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from tfgen import io, precision
from tfgen.errors import TfgenError, TfgenUsageError
from tfgen.export import serving

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
DEFAULT_REPRESENTATIVE = 100


class Function:
    """One TFLite signature: a function of float tensors, its input specs, its image domain.

    Args:
        fn: callable. Takes the inputs positionally, returns a dict of output tensors.
        specs: list of tf.TensorSpec. The inputs, named.
        domain: str or None. The image domain of an `images` input ("a", "b") for the
            representative set.
    """

    def __init__(self, fn, specs, domain=None):
        self.fn = fn
        self.specs = list(specs)
        self.domain = domain


def _latent_spec(batch_size, latent_dim):
    return tf.TensorSpec([batch_size, int(latent_dim)], tf.float32, name="z")


def _image_spec(batch_size, shape):
    return tf.TensorSpec([batch_size, *[int(d) for d in shape]], tf.float32, name="images")


def _gan_functions(model, batch_size):
    generator = model.sampling_generator
    return {
        "serving_default": Function(
            lambda z: {"images": generator(z, training=False)},
            [_latent_spec(batch_size, model.latent_dim)],
        )
    }


def _cgan_functions(model, batch_size):
    generator = model.sampling_generator
    latent_dim = int(generator.inputs[0].shape[-1])
    return {
        "serving_default": Function(
            lambda z, label: {"images": generator([z, label], training=False)},
            [
                _latent_spec(batch_size, latent_dim),
                tf.TensorSpec([batch_size], tf.int32, name="label"),
            ],
        )
    }


def _translator(generator, batch_size, domain):
    shape = serving._static_shape(generator, generator.name)
    if None in shape:
        raise TfgenUsageError(
            f"{generator.name} takes images of shape {shape}; TFLite needs a fixed image size, "
            "rebuild the model with a fixed image_shape"
        )
    return Function(
        lambda images: {"images": generator(images, training=False)},
        [_image_spec(batch_size, shape)],
        domain=domain,
    )


def _pix2pix_functions(model, batch_size):
    return {"serving_default": _translator(model.sampling_generator, batch_size, "a")}


def _cyclegan_functions(model, batch_size):
    return {
        "a2b": _translator(model.sampling_generator_for("a2b"), batch_size, "a"),
        "b2a": _translator(model.sampling_generator_for("b2a"), batch_size, "b"),
    }


def _vae_functions(model, batch_size):
    def encode(images):
        posterior = model.encode(images)
        return {"mean": posterior.mean(), "scale": posterior.stddev()}

    return {
        "decode": Function(
            lambda z: {"images": model.generate(z=z, seed=0, mode="mean")},
            [_latent_spec(batch_size, model.latent_dim)],
        ),
        "encode": Function(encode, [_image_spec(batch_size, model.image_shape)], domain="a"),
    }


# model kind -> function(model, batch_size) -> {signature name: Function}
FUNCTIONS = {
    "dcgan": _gan_functions,
    "wgan_gp": _gan_functions,
    "cgan": _cgan_functions,
    "pix2pix": _pix2pix_functions,
    "cyclegan": _cyclegan_functions,
    "vae": _vae_functions,
}


def tflite_functions(model, batch_size=1):
    """The TFLite signatures of `model`: {name: Function}."""
    kind = serving.check_exportable(model)
    if int(batch_size) < 1:
        raise TfgenUsageError(f"batch_size must be >= 1, got {batch_size}")
    return FUNCTIONS[kind](model, int(batch_size))


# --------------------------------------------------------------------------- representative set
def _as_image_array(images, shape, what):
    """Float32 [N, *shape] in [-1, 1] from an array or a dataset of batches (or of pairs)."""
    if isinstance(images, tf.data.Dataset):
        batches = [b[0] if isinstance(b, (tuple, list)) else b for b in images]
        images = np.concatenate([np.asarray(b) for b in batches]) if batches else np.zeros([0])
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = io.from_uint8(images)
    if images.ndim == 3 and shape[-1] == 1:
        images = images[..., None]
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape) or len(images) == 0:
        raise TfgenUsageError(
            f"representative images for {what} must be an array [N, {', '.join(map(str, shape))}] "
            f"with N >= 1, got shape {images.shape}; load them with image_size={shape[0]}, "
            f"channels={shape[-1]}"
        )
    return images.astype(np.float32)


def _domain_images(model, functions, representative_images, n, seed):
    """{domain: float32 images} for the signatures with image inputs."""
    domains = {f.domain: f for f in functions.values() if f.domain is not None}
    if not domains:
        return {}
    if representative_images is None:
        if getattr(model, "kind", None) == "vae":
            # The decoder's images of prior samples are the encoder's inputs at their most
            # typical; good enough to set activation ranges when no data is at hand.
            return {"a": np.asarray(model.generate(n, seed=seed))}
        raise TfgenUsageError(
            f"int8 quantization of a {model.kind} model calibrates on real input images; pass "
            "representative_images (CLI: --dataset, and --dataset-b for CycleGAN's domain B)"
        )
    if not isinstance(representative_images, dict):
        representative_images = {"a": representative_images}
    images = {}
    for domain, function in domains.items():
        if domain not in representative_images:
            raise TfgenUsageError(
                f"representative_images has no domain {domain!r} images; pass a dict "
                f"{{'a': images_a, 'b': images_b}} for {model.kind}"
            )
        spec = next(s for s in function.specs if s.name == "images")
        images[domain] = _as_image_array(
            representative_images[domain], spec.shape[1:], f"domain {domain}"
        )
    return images


def load_representative_images(
    model, dataset, dataset_b=None, n=DEFAULT_REPRESENTATIVE, data_dir=None, seed=0
):
    """Real input images to calibrate int8 image inputs, loaded like training data.

    Args:
        model: the model to convert; its input shapes set the image size and channels.
        dataset: str. A `tfgen.data.load` source of the (domain A) input images.
        dataset_b: str or None. CycleGAN's domain B source (`load_unpaired`'s `source_b`);
            None when `dataset` holds both domains.
        n: int. Images per domain.

    Returns:
        float32 images [n, H, W, C] in [-1, 1], or `{"a": ..., "b": ...}` for CycleGAN.
    """
    from tfgen import data

    functions = tflite_functions(model)
    specs = {f.domain: f.specs[0] for f in functions.values() if f.domain is not None}
    if not specs:
        return None  # latent inputs only: the representative set needs no data
    n = int(n)
    if "b" in specs:
        from tfgen.data import unpaired

        ds = unpaired.load_unpaired(
            dataset,
            dataset_b,
            split="train",
            image_size=int(specs["a"].shape[1]),
            batch_size=n,
            seed=seed,
            data_dir=data_dir,
            cache=False,
        )
        images_a, images_b = next(iter(ds))
        return {"a": images_a.numpy(), "b": images_b.numpy()}
    shape = specs["a"].shape
    ds = data.load(
        dataset,
        split="train",
        image_size=int(shape[1]),
        channels=int(shape[3]),
        batch_size=n,
        seed=seed,
        drop_remainder=False,
        cache=False,
        data_dir=data_dir,
    )
    return next(iter(ds)).numpy()


def representative_dataset(model, functions, representative_images=None, n=100, seed=0):
    """A generator function of `(signature, {input: array})` samples for int8 calibration."""
    rng = np.random.default_rng(seed)
    images = _domain_images(model, functions, representative_images, n, seed)
    num_classes = int(getattr(model, "num_classes", 0) or 0)

    def sample(name, function, i):
        inputs = {}
        for spec in function.specs:
            shape = [int(d) for d in spec.shape]
            if spec.name == "z":
                inputs["z"] = rng.standard_normal(shape).astype(np.float32)
            elif spec.name == "label":
                inputs["label"] = rng.integers(0, num_classes, shape).astype(np.int32)
            elif spec.name == "images":
                pool = images[function.domain]
                rows = [(i * shape[0] + k) % len(pool) for k in range(shape[0])]
                inputs["images"] = pool[rows]
            else:  # a new input kind must say how to draw it, not get zeros silently
                raise TfgenError(f"no representative data for input {spec.name!r} of {name}")
        return inputs

    def gen():
        for i in range(int(n)):
            for name, function in functions.items():
                yield name, sample(name, function, i)

    return gen


# --------------------------------------------------------------------------- conversion
def _frozen_signatures(functions):
    """Each Function frozen to constants and wrapped as a signature with named outputs."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    signatures = {}
    for name, function in functions.items():
        concrete = tf.function(function.fn, input_signature=function.specs).get_concrete_function()
        frozen = convert_variables_to_constants_v2(concrete)
        # The frozen function returns a flat list in the order of the sorted output keys.
        keys = sorted(concrete.structured_outputs)

        def wrapper(*args, frozen=frozen, keys=keys):
            return dict(zip(keys, frozen(*args), strict=True))

        signatures[name] = tf.function(wrapper, input_signature=function.specs)
    return signatures


def _configure(converter, quantize, representative):
    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Per-channel scales of a wide Dense (DCGAN's 64 -> 7*7*64 projection) add 12 bytes a
        # unit and push the int8 file past 30 % of the float one; one scale per Dense layer
        # (TFLite's classic scheme) changed the samples by < 0.01 here. Convs stay per-channel.
        if hasattr(converter, "_experimental_disable_per_channel_quantization_for_dense_layers"):
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True


def convert(
    model,
    path=None,
    quantize="none",
    representative_images=None,
    num_representative=DEFAULT_REPRESENTATIVE,
    batch_size=1,
    seed=0,
    overwrite=False,
):
    """Converts a tfgen model to TFLite; returns the flatbuffer bytes (and writes `path`).

    Args:
        model: a tfgen model (any kind in `tfgen.export.SIGNATURES`).
        path: str or None. The `.tflite` file to write (atomically); None only returns bytes.
        quantize: str. `"none"` (float32), `"float16"` (float16 weights, float32 compute),
            `"dynamic"` (int8 weights, float activations) or `"int8"` (int8 weights and
            activations, float32 inputs and outputs). Defaults to `"none"`.
        representative_images: array, `tf.data.Dataset`, dict `{"a": ..., "b": ...}` or None.
            Real input images (uint8, or float32 in [-1, 1]) to calibrate int8 image inputs;
            required for pix2pix and CycleGAN with `quantize="int8"`.
        num_representative: int. Calibration samples per signature. Defaults to 100.
        batch_size: int. The fixed batch size of every input. Defaults to 1.
        seed: int. Seeds the calibration latents and labels.
        overwrite: bool. Replace an existing `path`.
    """
    if quantize not in QUANTIZATIONS:
        raise TfgenUsageError(
            f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZATIONS)}"
        )
    if path is not None:
        path = pathlib.Path(path)
        if path.suffix != ".tflite":
            raise TfgenUsageError(f"--out must end in .tflite, got {path.name!r}")
        if path.exists() and not overwrite:
            raise TfgenUsageError(f"{path} already exists; pass --overwrite to replace it")
    if int(num_representative) < 1:
        raise TfgenUsageError(f"--representative must be >= 1, got {num_representative}")
    # TFLite has no bfloat16/float16 kernels: a mixed-precision model exports as its float32
    # twin (same weights), so the file takes and returns float32 and runs everywhere.
    model = precision.float32_copy(model)
    functions = tflite_functions(model, batch_size)
    representative = None
    if quantize == "int8":
        representative = representative_dataset(
            model, functions, representative_images, num_representative, seed
        )
    with tempfile.TemporaryDirectory() as tmp:
        # Custom gradients (e.g. of activations with a hand-written gradient) would capture
        # frozen constants, which SavedModel refuses; inference never needs them.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        signatures = _frozen_signatures(functions)
        tf.saved_model.save(tf.Module(), tmp, signatures=signatures, options=options)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(functions))
        _configure(converter, quantize, representative)
        with warnings.catch_warnings():
            # The calibrator runs TF's own (deprecated) interpreter; nothing to act on here.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
            try:
                content = converter.convert()
            except Exception as e:  # ConverterError: an op with no TFLite (int8) kernel
                raise TfgenError(
                    f"TFLite conversion of the {model.kind} model with quantize={quantize!r} "
                    f"failed: {str(e).splitlines()[0]}; try another --quantize"
                ) from e
    if path is not None:
        with io.atomic_path(path) as tmp_file:
            tmp_file.write_bytes(content)
    return content


def interpreter(model_path_or_content, num_threads=None):
    """An allocated `ai_edge_litert` Interpreter for a `.tflite` file or its bytes."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model_path_or_content, (bytes, bytearray)):
        result = Interpreter(model_content=bytes(model_path_or_content), num_threads=num_threads)
    else:
        result = Interpreter(model_path=str(model_path_or_content), num_threads=num_threads)
    result.allocate_tensors()
    return result


def run(tflite_interpreter, signature="serving_default", **inputs):
    """Runs one signature of an Interpreter; returns {output name: numpy array}."""
    signatures = tflite_interpreter.get_signature_list()
    if signature not in signatures:
        raise TfgenUsageError(
            f"the TFLite model has no signature {signature!r}; it has {', '.join(signatures)}"
        )
    return tflite_interpreter.get_signature_runner(signature)(**inputs)
