"""The model contract: a hand-written two-layer torch model goes through encoding, MI, traversals, top-k
reconstructions, the widgets and training (cache, resume, load) exactly like the built-in VAEs."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from vaeinfo.info.influence import (
    keep_top_k,
    rank_factors,
    topk_reconstructions,
    traversal_latents,
    traversal_values,
)
from vaeinfo.info.mi import factor_mi
from vaeinfo.models.contract import check_model, decode_mean, device_of
from vaeinfo.training.checkpoint import CheckpointError, cache_key, load_model
from vaeinfo.training.encode import encode
from vaeinfo.training.train import evaluate, train
from vaeinfo.viz.widgets import topk_generation, traversal

SIGMA = 0.1  # the fixed standard deviation of Tiny's Gaussian likelihood
ATOL = 1e-6  # float32 tolerance for the same computation done two ways
CONFIG = {"objective": {"beta": 1.0}, "optimizer": {"name": "adam", "lr": 1e-2}, "batch_size": 50, "epochs": 2}


class Tiny(nn.Module):
    """Encoder Linear(16, 2d) on flattened (1, 4, 4) images, decoder Linear(d, 16), Gaussian p(x|z) with sigma 0.1."""

    def __init__(self, d: int = 2, seed: int = 0):
        super().__init__()
        self.latent_dim = d
        self.config = {"input_shape": [1, 4, 4]}
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global RNG untouched
            torch.manual_seed(seed)
            self.enc, self.dec = nn.Linear(16, 2 * d), nn.Linear(d, 16)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 1, 4, 4) -> (mu, logvar), each (n, d)."""
        return self.enc(x.flatten(1)).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(n, d) -> Gaussian means (n, 1, 4, 4)."""
        return self.dec(z).view(-1, 1, 4, 4)

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """log N(x; params, SIGMA^2 I) summed over the 16 pixels: (n,) nats."""
        squared = (x - params).square().flatten(1).sum(1)
        return -0.5 * squared / SIGMA**2 - 16 * (math.log(SIGMA) + 0.5 * math.log(2 * math.pi))


class Renamed(Tiny):
    """The same network under another class name: another model for the cache."""


class NoLikelihood(nn.Module):
    """Satisfies the contract for inference but cannot be trained: no log_likelihood."""

    latent_dim = 2
    config: ClassVar[dict] = {"input_shape": [1, 4, 4]}

    def encode(self, x):
        return x.flatten(1)[:, :2], x.flatten(1)[:, 2:4]

    def decode(self, z):
        return z.sum(1).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


class PlainEncoder:
    """A contract model that is no torch module and has no parameters: mu = first two pixels, logvar = -1."""

    latent_dim = 2
    config: ClassVar[dict] = {"input_shape": [1, 4, 4]}

    def encode(self, x):
        return x.flatten(1)[:, :2] * 2.0, torch.full((len(x), 2), -1.0)

    def decode(self, z):
        return z.mean(1).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """400 images (1, 4, 4) in [0, 1] made of two random patterns with random weights, plus a little noise."""
    rng = np.random.default_rng(0)
    patterns = rng.uniform(-1, 1, (2, 16))
    weights = rng.uniform(-1, 1, (400, 2))
    x = 0.5 + 0.2 * weights @ patterns + 0.02 * rng.standard_normal((400, 16))
    return torch.as_tensor(np.clip(x, 0, 1), dtype=torch.float32).view(400, 1, 4, 4)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def snapshot(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------- contract checks


def test_check_model_names_the_missing_member():
    class NoDecode:
        latent_dim, config = 2, {"input_shape": [4]}

        def encode(self, x):
            return x, x

    with pytest.raises(TypeError, match=r"NoDecode does not satisfy the vaeinfo model contract: it lacks decode\."):
        check_model(NoDecode())
    assert check_model(Tiny()) is not None and device_of(Tiny()) == torch.device("cpu")


def test_training_needs_log_likelihood_and_a_torch_module(images, tmp_path):
    with pytest.raises(TypeError, match=r"NoLikelihood .* it lacks log_likelihood\. See"):
        train(CONFIG, images, model=NoLikelihood(), cache_dir=tmp_path, progress=False)
    with pytest.raises(TypeError, match=r"PlainEncoder .* lacks log_likelihood, parameters\."):
        train(CONFIG, images, model=PlainEncoder(), cache_dir=tmp_path, progress=False)
    plain = PlainEncoder()
    plain.log_likelihood, plain.parameters = (lambda x, p: x.sum()), (lambda: iter(()))
    with pytest.raises(TypeError, match=r"lacks torch\.nn\.Module as a base class"):
        train(CONFIG, images, model=plain, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()


# ----------------------------------------------------------------------------- inference


def test_encode_equals_the_models_encoder_and_keeps_its_mode(images):
    model = Tiny().train()
    mu, logvar = encode(model, images, batch_size=64)
    with torch.no_grad():
        ref_mu, ref_logvar = model.encode(images)
    assert mu.shape == logvar.shape == (400, 2) and mu.dtype == np.float64
    np.testing.assert_allclose(mu, ref_mu.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(logvar, ref_logvar.numpy(), rtol=0, atol=ATOL)
    assert model.training  # restored


def test_encode_restores_the_mode_of_every_submodule(images):
    """A submodule held in eval mode while the model trains (e.g. a frozen part) stayed in train mode after encode:
    only the root's mode was restored."""
    model = Tiny().train()
    frozen = next(m for m in model.modules() if m is not model).eval()
    encode(model, images[:5])
    assert model.training and not frozen.training
    assert all(m.training for m in model.modules() if m is not frozen)


def test_encode_restores_the_mode_through_the_models_own_train(images):
    """A train() override (here: freezing the weights in eval mode) is run again when the mode is restored."""
    class Freezing(Tiny):
        def train(self, mode: bool = True):
            super().train(mode)
            for parameter in self.parameters():
                parameter.requires_grad_(mode)
            return self

    model = Freezing().train()
    encode(model, images[:5])
    assert model.training and all(parameter.requires_grad for parameter in model.parameters())


def test_encode_works_for_a_model_that_is_not_a_torch_module(images):
    mu, logvar = encode(PlainEncoder(), images[:5], dtype=np.float32)
    np.testing.assert_allclose(mu, 2 * images[:5].flatten(1)[:, :2].numpy(), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(logvar, np.full((5, 2), -1.0, dtype=np.float32))


def test_factor_mi_of_a_hand_set_encoder_is_log_n_and_zero():
    """Factor 0: mu_i = 4 i / 63 with sigma = exp(-10), 64 disjoint components: I = log 64. Factor 1: mu = 0,
    logvar = 0 for every x, q(z_1|x) = prior: I = 0."""
    model = Tiny()
    with torch.no_grad():
        model.enc.weight.zero_()
        model.enc.bias.zero_()
        model.enc.weight[0, 0] = 4.0  # mu_0 = 4 * pixel (0, 0, 0)
        model.enc.bias[2] = -20.0  # logvar_0
    x = torch.rand(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    x[:, 0, 0, 0] = torch.arange(64) / 63
    mi = factor_mi(*encode(model, x))
    np.testing.assert_allclose(mi, [math.log(64), 0.0], rtol=0, atol=1e-4)  # nats


def test_traversal_rows_decode_the_edited_codes(images):
    model = Tiny().eval()
    mu = torch.as_tensor(encode(model, images[:1])[0][0], dtype=torch.float32)
    factors, values = np.array([1, 0]), traversal_values()
    z = traversal_latents(mu, factors, values)
    with torch.no_grad():
        decoded = decode_mean(model, z.reshape(-1, 2)).reshape(2, len(values), 1, 4, 4)
        for r, h in enumerate(factors):
            for c, v in enumerate(values):
                edited = mu.clone()
                edited[h] = float(v)
                torch.testing.assert_close(decoded[r, c], model.decode(edited[None])[0], rtol=0, atol=ATOL)
    assert decoded.shape == (2, 10, 1, 4, 4) and float((decoded[:, 0] - decoded[:, -1]).abs().max()) > 1e-3


def test_topk_reconstructions_keep_all_and_keep_none(images):
    model = Tiny().eval()
    mu = encode(model, images[:7])[0]
    recs = topk_reconstructions(model, mu, np.array([1, 0]), ks=(2, 0), batch_size=3)
    with torch.no_grad():
        full = model.decode(torch.as_tensor(mu, dtype=torch.float32))
        prior = model.decode(torch.zeros(7, 2))
    assert recs.shape == (2, 7, 1, 4, 4)
    torch.testing.assert_close(recs[0], full, rtol=0, atol=ATOL)
    torch.testing.assert_close(recs[1], prior, rtol=0, atol=ATOL)
    torch.testing.assert_close(prior[3], model.dec.bias.detach().view(1, 4, 4), rtol=0, atol=ATOL)


def test_widgets_show_the_decoded_mean_of_their_latent(images):
    model = Tiny().eval()
    mi = np.array([0.3, 1.2])
    view = traversal(model, images[:3], mi, n_factors=2, debounce=0)
    mu = torch.as_tensor(encode(model, images[:3], dtype=np.float32)[0])
    assert view.factors.tolist() == [1, 0]
    view.base.value = 2
    view.sliders[0].value = 1.5  # factor 1
    expected = mu[2].clone()
    expected[1] = 1.5
    torch.testing.assert_close(view.latent[0], expected, rtol=0, atol=ATOL)
    with torch.no_grad():
        np.testing.assert_allclose(view.array, decode_mean(model, view.latent)[0].numpy(), rtol=0, atol=ATOL)

    topk = topk_generation(model, images[:3], mi, k=1, debounce=0)
    torch.testing.assert_close(topk.latent, keep_top_k(mu, rank_factors(mi), 1), rtol=0, atol=ATOL)
    assert topk.latent[:, 0].abs().max().item() == 0.0 and topk.array.shape == (3, 1, 4, 4)
    topk.k.value = 0
    with torch.no_grad():
        np.testing.assert_allclose(topk.array, decode_mean(model, topk.latent).numpy(), rtol=0, atol=ATOL)
        np.testing.assert_allclose(topk.array, model.decode(torch.zeros(3, 2)).numpy(), rtol=0, atol=ATOL)


# ----------------------------------------------------------------------------- training


def test_train_a_custom_model_cache_and_load(images, tmp_path):
    tiny, before = Tiny(), snapshot(Tiny())
    result = train(CONFIG, images, model=tiny, cache_dir=tmp_path, progress=False)
    assert same_weights(tiny, Tiny()) and all(torch.equal(tiny.state_dict()[k], v) for k, v in before.items())
    assert isinstance(result.model, Tiny) and result.model is not tiny and not result.model.training
    assert result.config["model"] == {"custom": f"{Tiny.__module__}.Tiny", "input_shape": [1, 4, 4]}
    assert result.key.startswith("Tiny-") and result.epochs_trained == 2
    losses = [h["train_loss"] for h in result.history]
    assert losses[1] < losses[0], losses
    start, end = (evaluate(m, images, CONFIG["objective"])["loss"] for m in (tiny, result.model))
    assert end < start - 100, (start, end)  # nats per example; SIGMA = 0.1 makes the untrained loss large

    again = train(CONFIG, images, model=tiny, cache_dir=tmp_path, progress=False)
    assert again.cached and again.epochs_trained == 0 and again.key == result.key
    assert same_weights(again.model, result.model) and again.history == result.history
    assert train({**CONFIG, "model": result.config["model"]}, images, model=tiny, cache_dir=tmp_path,
                 progress=False).cached  # the run's own config names the same run

    assert cache_key(CONFIG, images, model=tiny) == result.key
    assert cache_key(CONFIG, images, model=Tiny(seed=1)) != result.key  # other initial weights
    assert cache_key(CONFIG, images, model=Tiny(d=3)) != result.key
    assert cache_key(CONFIG, images, model=Renamed()) != result.key  # same weights, other class

    template = Tiny(seed=5)
    loaded = load_model(result.key, cache_dir=tmp_path, model=template)
    assert isinstance(loaded, Tiny) and loaded is not template and same_weights(loaded, result.model)
    assert same_weights(template, Tiny(seed=5)) and not loaded.training
    with pytest.raises(ValueError, match=r"run of the custom model .*Tiny: pass model=<an instance"):
        load_model(result.key, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"model= does not match the run"):
        load_model(result.key, cache_dir=tmp_path, model=Renamed())  # another class
    with pytest.raises(CheckpointError, match=r"does not fit the Tiny model.*size mismatch for enc\.weight"):
        load_model(result.key, cache_dir=tmp_path, model=Tiny(d=3))  # same description, other shapes


EDITABLE = """
import torch
from torch import nn


class Base(nn.Module):
    def decode(self, z):
        return DECODED.view(-1, 1, 4, 4)


class Net(Base):
    def __init__(self):
        super().__init__()
        self.latent_dim, self.config = 2, {"input_shape": [1, 4, 4]}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.enc, self.dec = nn.Linear(16, 4), nn.Linear(2, 16)

    def encode(self, x):
        return self.enc(x.flatten(1)).chunk(2, dim=1)

    def log_likelihood(self, x, params):
        return -(x - params).square().flatten(1).sum(1)
"""


def test_an_edit_of_a_custom_models_code_changes_its_key(images, tmp_path, monkeypatch):
    """The key hashed a custom model's class name and initial weights only: an edited decode (here inherited from
    a base class of the user's) silently reused the old code's weights. A comment does not change it; a class
    without a source file enters by name, with a warning; a class whose source does not parse alone is hashed raw."""
    import importlib
    import sys

    name = f"vaeinfo_editable_model_{id(tmp_path)}"
    module_file = tmp_path / f"{name}.py"
    monkeypatch.syspath_prepend(str(tmp_path))

    def key_of(decoded: str, comment: str = "") -> str:
        module_file.write_text(EDITABLE.replace("DECODED", decoded) + comment)
        module = importlib.reload(sys.modules[name]) if name in sys.modules else importlib.import_module(name)
        return cache_key(CONFIG, images, model=module.Net())

    try:
        plain = key_of("self.dec(z)")
        assert key_of("torch.sigmoid(self.dec(z))") != plain
        assert key_of("self.dec(z)", comment="# a comment changes no code\n") == plain
    finally:
        sys.modules.pop(name, None)
    namespace: dict = {"__name__": "__main__"}
    exec(EDITABLE.replace("DECODED", "self.dec(z)"), namespace)  # as in a notebook cell: no file behind it
    from vaeinfo.training.checkpoint import class_fingerprint
    with pytest.warns(UserWarning, match=r"no source file for \['__main__.Base', '__main__.Net'\]"):
        fingerprint = class_fingerprint(namespace["Net"]())
    assert fingerprint["classes"] == fingerprint["no_source"] == ["__main__.Base", "__main__.Net"]

    class Nested(nn.Module):  # its source, dedented, does not parse: the string's second line is at column 0
        text = """
no indent"""

    assert class_fingerprint(Nested())["classes"] == [f"{__name__}.{Nested.__qualname__}"]


def test_a_resumed_custom_run_ends_with_the_uninterrupted_weights(images, tmp_path, stopped_in_epoch_2):
    full = train(CONFIG, images, model=Tiny(), cache_dir=tmp_path / "full", progress=False)
    with stopped_in_epoch_2():
        train(CONFIG, images, model=Tiny(), cache_dir=tmp_path / "cut", progress=False)
    resumed = train(CONFIG, images, model=Tiny(), cache_dir=tmp_path / "cut", progress=False)
    assert resumed.epochs_trained == 1 and not resumed.cached and same_weights(resumed.model, full.model)


def test_custom_model_config_and_data_errors(images, tmp_path):
    with pytest.raises(ValueError, match=r"'model' entry must be omitted or equal the model's description"):
        train({**CONFIG, "model": {"architecture": "mlp"}}, images, model=Tiny(), cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"data must be a non-empty batch of shape \(n, 1, 4, 4\) for the Tiny model"):
        train(CONFIG, images.view(400, 16), model=Tiny(), cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"a training config is a dict with a 'model' entry"):
        train(CONFIG, images, cache_dir=tmp_path, progress=False)  # no model= and no model entry
    with pytest.raises(ValueError, match=r"c_dims \[2\] do not fit a latent code of 2 dimensions"):  # model.latent_dim
        train({**CONFIG, "objective": {"name": "mi_regularised", "c_dims": [2]}}, images, model=Tiny(),
              cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()  # every error came before anything was written
