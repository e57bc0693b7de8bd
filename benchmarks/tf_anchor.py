"""The authors' training step in TF2/Keras: the anchor that ``train_throughput.py`` times vaeinfo against.

Liu et al. trained their MNIST VAE with TF2 (``../shared/docs/design.md`` §4): Keras ``Sequential`` encoder and
decoder, sigma a ``tf.Variable(1.0)`` trained with the weights, Adam (lr 1e-3, Keras' epsilon 1e-7), a
``@tf.function`` step under ``tf.GradientTape``, batches of 100 from ``tf.data`` (shuffle, batch). This module
builds that step for vaeinfo's conv layouts (``mnist_conv``, ``conv64``) from the same normalised model config, so
that both sides train the same function with the same loss:

    loss = mean over the batch of  sum_pixels[(x - x_hat)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2]
                                   + beta * KL(q(z|x) || N(0, I))                              (nats per image)

Keras works in NHWC, torch in NCHW: :func:`keras_weights` maps a vaeinfo model's weights onto the Keras layers
(kernels transposed, the dense layers next to Flatten/Reshape permuted), which ``tests/test_tf_anchor.py`` uses to
check that the two losses agree on the same batch and noise. TensorFlow and torch crash when both run ops in one
process here, so this file is also the child process the benchmark drives (``serve``) and the test runs
(``loss``); it imports numpy only, TensorFlow lazily (``pip install -e .[bench]`` installs ``tensorflow-cpu``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

LOG_2PI = math.log(2 * math.pi)


def _tf():
    import tensorflow as tf  # optional dependency (the bench extra)

    return tf


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process (None if this TF cannot say). TF's default turns
    them on only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX (e.g. AMD Zen 4, not Zen 3); ``TF_ENABLE_ONEDNN_OPTS=1``
    or ``=0`` in the environment decides otherwise."""
    _tf()
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def build(model_cfg: dict, seed: int = 0):
    """Keras encoder, decoder and the sigma variable for a normalised mnist_conv/conv64 config (Gaussian, sigma).

    The encoder maps (n, H, W, C) images to (n, 2d) = [mu, logvar]; the decoder (n, d) codes to (n, H, W, C)
    means. Glorot-uniform kernels and zero biases (Keras defaults), drawn after ``keras.utils.set_random_seed``.
    """
    tf = _tf()
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    c_in, height, width = model_cfg["input_shape"]
    channels, hidden, latent = model_cfg["channels"], model_cfg["hidden"], model_cfg["latent_dim"]
    shrink = 2 ** len(channels)
    bottom = (height // shrink, width // shrink, channels[-1])
    layers = keras.layers
    encoder = keras.Sequential(
        [keras.Input((height, width, c_in))]
        + [layers.Conv2D(c, 4, 2, padding="same", activation="relu") for c in channels]
        + [layers.Flatten()]
        + [layers.Dense(h, activation="relu") for h in hidden]
        + [layers.Dense(2 * latent)])
    last = "relu" if model_cfg.get("output_activation") == "relu" else None
    ups = [*channels[-2::-1], c_in]
    decoder = keras.Sequential(
        [keras.Input((latent,))]
        + [layers.Dense(h, activation="relu") for h in hidden[::-1]]
        + [layers.Dense(math.prod(bottom), activation="relu"), layers.Reshape(bottom)]
        + [layers.Conv2DTranspose(c, 4, 2, padding="same", activation="relu") for c in ups[:-1]]
        + [layers.Conv2DTranspose(ups[-1], 4, 2, padding="same", activation=last)])
    sigma = tf.Variable(float(model_cfg.get("init_sigma", 1.0)), name="sigma")
    return encoder, decoder, sigma


def loss(encoder, decoder, sigma, x, noise, beta: float):
    """The authors' loss of one batch: x (n, H, W, C) in [0, 1], noise (n, d) standard normal; a scalar (nats)."""
    tf = _tf()
    mean, logvar = tf.split(encoder(x), 2, axis=1)
    z = noise * tf.exp(logvar * 0.5) + mean
    x_hat = decoder(z)
    recon = tf.reduce_sum((x - x_hat) ** 2 / (2 * sigma ** 2) + tf.math.log(sigma) + 0.5 * LOG_2PI, axis=[1, 2, 3])
    kl = 0.5 * tf.reduce_sum(tf.exp(logvar) + mean ** 2 - 1.0 - logvar, axis=1)
    return tf.reduce_mean(recon + beta * kl)


def epoch_runner(model_cfg: dict, images: np.ndarray, beta: float, lr: float = 1e-3, batch_size: int = 100,
                 seed: int = 0) -> Callable[[], None]:
    """A function that trains one epoch over ``images`` (n, H, W, C float32) as the authors' notebook does.

    tf.data shuffles the whole set each epoch and batches it by ``batch_size``; the step is a ``@tf.function``
    (graph mode, traced once; XLA off, as in their notebook) with one z sample per image.
    """
    tf = _tf()
    encoder, decoder, sigma = build(model_cfg, seed)
    optimizer = tf.keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7)
    variables = [*encoder.trainable_variables, *decoder.trainable_variables, sigma]
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).batch(batch_size)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            value = loss(encoder, decoder, sigma, x, tf.random.normal((tf.shape(x)[0], model_cfg["latent_dim"])),
                         beta)
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
        return value

    def epoch() -> None:
        for batch in dataset:
            step(batch)

    return epoch


def keras_weights(encoder_layers: list, decoder_layers: list, bottom_chw: tuple[int, int, int]) -> tuple[list, list]:
    """vaeinfo's (torch) weights in the order and layout of the Keras layers' ``set_weights``.

    ``encoder_layers`` / ``decoder_layers``: (weight, bias) numpy pairs of the torch modules with weights, in order
    (4-D weights are (transposed) convolutions). Conv2d kernels (out, in, kh, kw) and ConvTranspose2d kernels (in,
    out, kh, kw) become Keras' (kh, kw, in, out) and (kh, kw, out, in) by the same transpose; dense kernels are
    transposed. The encoder's first dense layer reads (H, W, C)-ordered inputs in Keras and (C, H, W)-ordered ones
    in torch, and the decoder's last dense layer writes them: their rows (columns) are permuted to match.
    """
    c, h, w = bottom_chw
    hwc_to_chw = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()  # Keras index -> torch index

    def convert(layers: list, permute_first_dense: bool) -> list:
        dense = [i for i, (weight, _) in enumerate(layers) if weight.ndim == 2]
        out = []
        for i, (weight, bias) in enumerate(layers):
            if weight.ndim == 4:
                out.append([weight.transpose(2, 3, 1, 0), bias])
            elif permute_first_dense and i == dense[0]:
                out.append([weight.T[hwc_to_chw], bias])
            elif not permute_first_dense and i == dense[-1]:
                out.append([weight.T[:, hwc_to_chw], bias[hwc_to_chw]])
            else:
                out.append([weight.T, bias])
        return out

    return convert(encoder_layers, True), convert(decoder_layers, False)


def set_weights(encoder, decoder, sigma, weights: tuple[list, list], sigma_value: float) -> None:
    """Load :func:`keras_weights`' output and sigma into the Keras models, in place."""
    for net, layer_weights in zip((encoder, decoder), weights):
        layers = [layer for layer in net.layers if layer.weights]
        if len(layers) != len(layer_weights):
            raise ValueError(f"{len(layer_weights)} weight pairs for {len(layers)} Keras layers")
        for layer, pair in zip(layers, layer_weights):
            layer.set_weights(pair)
    sigma.assign(sigma_value)


def _serve(args) -> None:
    """Train epochs on request: one line 'epoch' on stdin -> one line with its wall time in seconds on stdout.

    TensorFlow and torch cannot share a process here (a segmentation fault once both have run ops), so the
    benchmark drives this loop in a child process, interleaving its epochs with torch's.
    """
    import json
    import sys
    import time

    cfg = json.loads(args.model)
    images = np.random.default_rng(args.seed).random((args.n, *cfg["input_shape"][1:], cfg["input_shape"][0]),
                                                     dtype=np.float32)
    epoch = epoch_runner(cfg, images, args.beta, seed=args.seed)
    tf = _tf()
    print(json.dumps({"ready": True, "tensorflow": tf.__version__, "onednn": onednn_enabled(),
                      "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                      "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        start = time.perf_counter()
        epoch()
        print(time.perf_counter() - start, flush=True)


def _loss_check(args) -> None:
    """Read weights, a batch and its noise from an .npz; print the loss before and after one Adam step (JSON)."""
    import json

    tf = _tf()
    cfg = json.loads(args.model)
    data = np.load(args.weights)
    layers = {net: [(data[f"{net}_{i}_w"], data[f"{net}_{i}_b"]) for i in range(int(data[f"{net}_n"]))]
              for net in ("encoder", "decoder")}
    encoder, decoder, sigma = build(cfg)
    set_weights(encoder, decoder, sigma, keras_weights(layers["encoder"], layers["decoder"],
                                                       tuple(data["bottom_chw"])), float(data["sigma"]))
    x, noise = data["x"].transpose(0, 2, 3, 1), data["noise"]
    variables = [*encoder.trainable_variables, *decoder.trainable_variables, sigma]
    with tf.GradientTape() as tape:
        before = loss(encoder, decoder, sigma, x, noise, args.beta)
    tf.keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7).apply_gradients(
        zip(tape.gradient(before, variables), variables))
    print(json.dumps({"before": float(before), "after": float(loss(encoder, decoder, sigma, x, noise, args.beta)),
                      "other_noise": float(loss(encoder, decoder, sigma, x, noise[::-1].copy(), args.beta)),
                      "parameters": encoder.count_params() + decoder.count_params() + 1}))


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="train epochs on request (driven by train_throughput.py)")
    serve.add_argument("--n", type=int, required=True, help="images per epoch")
    check = sub.add_parser("loss", help="the loss of a batch before/after one Adam step (tests/test_tf_anchor.py)")
    check.add_argument("--weights", required=True, help=".npz written by the test")
    for p in (serve, check):
        p.add_argument("--model", required=True, help="normalised vaeinfo model config as JSON")
        p.add_argument("--beta", type=float, required=True)
        p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    (_serve if args.command == "serve" else _loss_check)(args)


if __name__ == "__main__":
    main()
