"""vaeinfo.models.objectives.mi_regularised: the MI-regularised VAE objective (Ducau & Trénous).

Known answers: H(c) of the standard normal prior exactly; lambda = 0 is the plain VAE loss exactly; on a
linear-Gaussian model built by hand the bound equals the closed form 1/2 log det(I + A^T A / s^2) within Monte-Carlo
error (and, for a factorised q that is not the posterior, stays below I as Hadamard's inequality says); gradients
of the bound reach both networks, and only through the c rows of the encoder's output.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vaeinfo.data.mnist import load_digits
from vaeinfo.models.architectures import build_model, reparameterize
from vaeinfo.models.objectives import Batch, batch_terms, normalize_objective_config
from vaeinfo.models.objectives import mi_regularised as mireg
from vaeinfo.training.checkpoint import cache_key
from vaeinfo.training.config import normalize_config
from vaeinfo.training.train import evaluate, train

SMALL = {"architecture": "mlp", "input_shape": [1, 8, 8], "hidden": [32, 32], "activation": "softplus",
         "likelihood": "bernoulli", "latent_dim": 6}


def _batch(model, x: torch.Tensor, seed: int) -> Batch:
    """A training step's Batch for ``model`` on ``x``, z and the later prior draws from a generator seeded ``seed``."""
    noise = torch.Generator().manual_seed(seed)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, noise)
    return Batch(model, x, mu, logvar, z, model.log_likelihood(x, model.decode(z)), noise, 1000)


def _images(n: int = 40) -> torch.Tensor:
    return load_digits("train", n=n).images


def test_prior_entropy_is_exact():
    """H(c) = |c| log(2 pi e) / 2 for c ~ N(0, I): torch's Normal and MultivariateNormal entropies, to 1e-12."""
    assert mireg.prior_entropy(1) == pytest.approx(1.4189385332046727, abs=1e-15)
    assert mireg.prior_entropy(1) == pytest.approx(torch.distributions.Normal(0.0, 1.0).entropy().double().item(),
                                                   abs=1e-6)  # float32 inside torch's Normal
    for n in (0, 5, 10):
        mvn = torch.distributions.MultivariateNormal(torch.zeros(n, dtype=torch.float64),
                                                     torch.eye(n, dtype=torch.float64)) if n else None
        expected = mvn.entropy().item() if n else 0.0
        assert mireg.prior_entropy(n) == pytest.approx(expected, abs=1e-12)
    # the authors' constant 14.185 for 10 dimensions is 0.0044 nats short of the exact 14.18939
    assert mireg.prior_entropy(10) - 14.185 == pytest.approx(0.0043853, abs=1e-6)
    with pytest.raises(ValueError, match="dimensions must be >= 0"):
        mireg.prior_entropy(-1)


@pytest.mark.parametrize("beta, warmup, t", [(1.0, 0.0, 0.5), (4.0, 2.0, 1.0)])
def test_lambda_zero_is_the_plain_vae_loss_exactly(beta, warmup, t):
    """lambda = 0: every ELBO term and the loss are bitwise the beta-VAE's, and so are the gradients; the bound is
    logged without a graph."""
    model, x = build_model(SMALL, seed=1), _images()
    plain = normalize_objective_config({"name": "beta_vae", "beta": beta, "warmup_epochs": warmup})
    zero = normalize_objective_config({"name": "mi_regularised", "lambda": 0, "beta": beta, "warmup_epochs": warmup})
    a, b = batch_terms(plain, _batch(model, x, 3), t), batch_terms(zero, _batch(model, x, 3), t)
    for key in ("loss", "recon", "kl", "neg_elbo", "kl_per_factor", "beta"):
        assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key
    assert b["beta"] == (beta * min(t / warmup, 1.0) if warmup else beta)
    assert b["lambda"] == 0.0 and not b["mi_bound_c"].requires_grad
    grads = []
    for terms in (a, b):
        model.zero_grad()
        terms["loss"].backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(torch.equal(g, h) for g, h in zip(*grads))


@pytest.mark.parametrize("config", [SMALL, {"architecture": "mnist_conv", "latent_dim": 6}], ids=["mlp", "mnist_conv"])
def test_loss_is_the_plain_loss_minus_lambda_times_the_bound(config):
    """lambda 2.5, beta 3: loss = recon + 3 kl - 2.5 I^(c; x'); kl_c + kl_z = kl; mi_bound_c = H(c) + mean log q,
    x' the decoder's mean (sigmoid of the Bernoulli logits; the Gaussian mean of mnist_conv)."""
    model = build_model(config, seed=2)
    gen = torch.Generator().manual_seed(0)
    x = _images() if model.input_shape == (1, 8, 8) else torch.rand(8, 1, 28, 28, generator=gen)
    cfg = normalize_objective_config({"name": "mi_regularised", "lambda": 2.5, "beta": 3.0, "c_dims": [1, 4]})
    terms = batch_terms(cfg, _batch(model, x, 0), 1.0)
    expected = terms["recon"] + 3.0 * terms["kl"] - 2.5 * terms["mi_bound_c"]
    torch.testing.assert_close(terms["loss"], expected, rtol=1e-6, atol=1e-4)
    torch.testing.assert_close(terms["kl_c"] + terms["kl_z"], terms["kl"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(terms["kl_c"], terms["kl_per_factor"][[1, 4]].sum(), rtol=0, atol=0)
    # the bound of the same draw, by hand: z~ is the generator's next draw after z
    noise = torch.Generator().manual_seed(0)
    reparameterize(*model.encode(x), noise)
    code = torch.randn(len(x), 6, generator=noise)
    mean = model.decode(code)
    mu, logvar = model.encode(torch.sigmoid(mean) if model.likelihood == "bernoulli" else mean)
    q = torch.distributions.Normal(mu[:, [1, 4]], torch.exp(0.5 * logvar[:, [1, 4]]))
    by_hand = 2 * 0.5 * math.log(2 * math.pi * math.e) + q.log_prob(code[:, [1, 4]]).sum(1).mean()
    torch.testing.assert_close(terms["mi_bound_c"], by_hand, rtol=1e-5, atol=1e-5)
    rest = [0, 2, 3, 5]
    q_rest = torch.distributions.Normal(mu[:, rest], torch.exp(0.5 * logvar[:, rest]))
    by_hand_rest = 4 * 0.5 * math.log(2 * math.pi * math.e) + q_rest.log_prob(code[:, rest]).sum(1).mean()
    torch.testing.assert_close(terms["mi_bound_z"], by_hand_rest, rtol=1e-5, atol=1e-4)


class LinearGaussian(nn.Module):
    """x' = A c + s z for a code (c, z) of 2k dimensions, with the exact Gaussian posterior of c as the encoder.

    A = Q diag(a) with Q orthogonal, so A^T A = diag(a^2) and the posterior of c given x' is factorised:
    N(Sigma A^T x' / s^2, Sigma), Sigma = diag(1 / (1 + a^2 / s^2)). For the z half the encoder gives the exact
    posterior mean and the diagonal of the exact posterior covariance Q diag(a^2 / (a^2 + s^2)) Q^T (not diagonal):
    a factorised q that is not the posterior.
    """

    def __init__(self, a: torch.Tensor, q: torch.Tensor, s: float):
        super().__init__()
        k = len(a)
        self.latent_dim, self.config = 2 * k, {"input_shape": [k]}
        self.A, self.s = q @ torch.diag(a), s
        self.c_var = 1.0 / (1.0 + a.square() / s**2)
        self.z_cov = q @ torch.diag(a.square() / (a.square() + s**2)) @ q.T
        self.z_gain = s * torch.linalg.inv(s**2 * torch.eye(k, dtype=a.dtype) + self.A @ self.A.T)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        k = len(self.c_var)
        return code[:, :k] @ self.A.T + self.s * code[:, k:]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu_c = x @ self.A * (self.c_var / self.s**2)
        mu_z = x @ self.z_gain.T
        logvar = torch.cat([self.c_var, torch.diagonal(self.z_cov)]).log().expand(len(x), -1)
        return torch.cat([mu_c, mu_z], 1), logvar


def test_linear_gaussian_bound_equals_the_closed_form():
    """I^(c; x') -> 1/2 log det(I + A^T A / s^2) (q the exact posterior: the bound is tight); for the z half, whose q
    is only the posterior's diagonal, I^ -> -1/2 sum log diag(cov) <= 1/2 log det(I + s^2 (A A^T)^-1) = I(z; x').

    20 independent batches of 4,000 prior draws through the objective itself (decode, encode, bound), float64;
    tolerance 5 standard errors of their mean (each below 0.01 nats here).
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    s = 0.7
    model = LinearGaussian(a, q, s)
    A = model.A
    closed_c = 0.5 * torch.logdet(torch.eye(3, dtype=torch.float64) + A.T @ A / s**2).item()
    assert closed_c == pytest.approx(0.5 * torch.log1p(a.square() / s**2).sum().item(), abs=1e-12)
    closed_z = 0.5 * torch.log1p(s**2 / a.square()).sum().item()  # I(z; x') = 1/2 log det(I + s^2 (A A^T)^-1)
    hadamard_z = -0.5 * torch.diagonal(model.z_cov).log().sum().item()
    assert hadamard_z < closed_z - 0.05  # q of the z half is not the posterior: the bound is strictly looser

    cfg = normalize_objective_config({"name": "mi_regularised", "c_dims": [0, 1, 2]})
    noise = torch.Generator().manual_seed(1)
    x = torch.zeros(4000, 3, dtype=torch.float64)  # the data side does not enter the bound
    mu, logvar = model.encode(x)
    batch = Batch(model, x, mu, logvar, mu, torch.zeros(len(x), dtype=torch.float64), noise, len(x))
    draws = torch.tensor([[t["mi_bound_c"].item(), t["mi_bound_z"].item()] for t in
                          (batch_terms(cfg, batch, 0.0) for _ in range(20))], dtype=torch.float64)
    mean, se = draws.mean(0), draws.std(0) / math.sqrt(len(draws))
    assert torch.all(se < 0.01), se
    assert abs(mean[0].item() - closed_c) <= 5 * se[0].item(), (mean, closed_c, se)
    assert abs(mean[1].item() - hadamard_z) <= 5 * se[1].item(), (mean, hadamard_z, se)
    assert mean[1].item() <= closed_z + 5 * se[1].item()


def test_barber_agakov_bound_by_hand_and_its_errors():
    """One example, one dimension: H + log N(0.5; 0, 0.25) = 1.41894 + (-0.22579 - 0.5) nats; empty c gives 0."""
    code, mu, logvar = torch.tensor([[0.5, 9.0]]), torch.zeros(1, 2), torch.full((1, 2), math.log(0.25))
    expected = 0.5 * math.log(2 * math.pi * math.e) - 0.5 * math.log(2 * math.pi * 0.25) - 0.5 * 0.25 / 0.25
    assert mireg.barber_agakov_bound(code, mu, logvar, [0]).item() == pytest.approx(expected, abs=1e-6)
    assert mireg.barber_agakov_bound(code, mu, logvar, []).item() == 0.0
    with pytest.raises(ValueError, match=r"expected code, mu, logvar all \(n, d\)"):
        mireg.barber_agakov_bound(code, mu[:, :1], logvar, [0])


def test_gradients_of_the_bound_reach_encoder_and_decoder():
    """d I^(c; x') / d theta is non-zero for every weight of both networks; in the encoder's output layer only the
    rows of c's mu and log sigma^2 get it (the bound reads nothing else of q(z | x'))."""
    model, x = build_model(SMALL, seed=4), _images()
    cfg = normalize_objective_config({"name": "mi_regularised", "lambda": 1.0, "c_dims": [0, 2, 3]})
    terms = batch_terms(cfg, _batch(model, x, 5), 0.0)
    weights = {name: p for name, p in model.named_parameters() if name.endswith("weight")}
    grads = dict(zip(weights, torch.autograd.grad(terms["mi_bound_c"], list(weights.values()), retain_graph=True)))
    assert {n.split(".")[0] for n in grads} == {"encoder", "decoder"}
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name
    out = grads["encoder.5.weight"].abs().sum(1)  # rows: mu_0..mu_5, logvar_0..logvar_5
    c_rows = [0, 2, 3, 6, 8, 9]
    assert torch.all(out[c_rows] > 0) and torch.all(out[[h for h in range(12) if h not in c_rows]] == 0)
    terms["loss"].backward()
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())


def test_the_prior_draw_uses_the_batch_generator_only():
    """z~ comes from batch.noise, after z: the global RNG is untouched and the same seed gives the same bound."""
    model, x = build_model(SMALL, seed=0), _images()
    cfg = normalize_objective_config({"name": "mi_regularised"})
    before = torch.get_rng_state()
    first = batch_terms(cfg, _batch(model, x, 7), 0.0)["mi_bound_c"]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first, batch_terms(cfg, _batch(model, x, 7), 0.0)["mi_bound_c"])
    assert not torch.equal(first, batch_terms(cfg, _batch(model, x, 8), 0.0)["mi_bound_c"])


def test_config_defaults_and_c_dims():
    cfg = normalize_objective_config({"name": "mi_regularised"})
    assert cfg == {"name": "mi_regularised", "lambda": 1.0, "beta": 1.0, "warmup_epochs": 0.0, "c_dims": None}
    assert normalize_objective_config({"name": "mi_regularised", "c_dims": (4, 0, 2)})["c_dims"] == [0, 2, 4]
    assert mireg.code_split(None, 10) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])  # the first half
    assert mireg.code_split(None, 5) == ([0, 1, 2], [3, 4])
    assert mireg.code_split([3, 1], 4) == ([1, 3], [0, 2])
    with pytest.raises(ValueError, match=r"c_dims \[0, 6\] do not fit a latent code of 6 dimensions; give indices in "
                                         r"0\.\.5"):
        mireg.code_split([0, 6], 6)


def test_a_training_config_writes_c_dims_none_out_so_one_model_has_one_key():
    """c_dims None and the explicit first half are one model: one normalised config, one cache key; another split
    is another key. A split that does not fit the latent code is refused when the training config is read."""
    x = load_digits("train", n=60)
    configs = [{"model": SMALL, "objective": {"name": "mi_regularised", "c_dims": dims}, "epochs": 1}
               for dims in (None, list(range((SMALL["latent_dim"] + 1) // 2)), [0])]
    none, half, other = (normalize_config(c) for c in configs)
    assert none == half and none["objective"]["c_dims"] == mireg.code_split(None, SMALL["latent_dim"])[0]
    assert cache_key(configs[0], x) == cache_key(configs[1], x) != cache_key(configs[2], x)
    with pytest.raises(ValueError, match=r"do not fit a latent code of"):
        normalize_config({**configs[2], "objective": {"name": "mi_regularised", "c_dims": [SMALL["latent_dim"]]}})


@pytest.mark.parametrize("config, match", [
    ({"c_dims": []}, r"c_dims must be a non-empty list of non-negative integers"),
    ({"c_dims": [0, -1]}, r"non-negative integers"),
    ({"c_dims": [0, 1.5]}, r"non-negative integers"),
    ({"c_dims": [True]}, r"non-negative integers"),
    ({"c_dims": "first"}, r"c_dims must be a list of latent indices"),
    ({"c_dims": [1, 1]}, r"must not repeat"),
    ({"lambda": -1}, r"lambda must be a non-negative number"),
    ({"beta": "x"}, r"beta must be a non-negative number"),
    ({"lam": 1}, r"unknown key\(s\) \['lam'\] for the mi_regularised objective.*'lambda'"),
])
def test_bad_configs_are_clear_errors(config, match):
    with pytest.raises(ValueError, match=match):
        normalize_objective_config({"name": "mi_regularised", **config})


def test_training_logs_the_bounds_and_the_kl_halves(tmp_path):
    """Two epochs on 300 digits: the history and evaluate() carry the four logged terms; kl_c + kl_z = kl."""
    data, validation = load_digits("train", n=300), load_digits("validation", n=100)
    config = {"model": SMALL, "objective": {"name": "mi_regularised", "lambda": 1.0}, "epochs": 2, "batch_size": 50,
              "seed": 0}
    run = train(config, data, validation, cache_dir=tmp_path, progress=False)
    for record in run.history:
        for split in ("train", "val"):
            assert {f"{split}_{k}" for k in mireg.LOGGED} <= set(record)
            assert record[f"{split}_kl_c"] + record[f"{split}_kl_z"] == pytest.approx(record[f"{split}_kl"], rel=1e-6)
        assert record["lambda"] == 1.0
    terms = evaluate(run.model, validation, config["objective"])
    assert terms["kl_c"] + terms["kl_z"] == pytest.approx(terms["kl"], rel=1e-6)
    assert sum(terms["kl_per_factor"][:3]) == pytest.approx(terms["kl_c"], rel=1e-5)  # c: the first half of 6
    assert terms["mi_bound_c"] == evaluate(run.model, validation, config["objective"])["mi_bound_c"]  # seeded draws
