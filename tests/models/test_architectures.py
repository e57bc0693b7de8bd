"""vaeinfo.models.architectures: the contract of every architecture, the paper's layer sizes, likelihoods, the
authors' options (sigma learned directly, ReLU output), bad inputs."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vaeinfo.models import architectures as models
from vaeinfo.models.architectures import build_model, reparameterize

CONFIGS = {
    "mnist_conv": {"architecture": "mnist_conv"},
    "mnist_conv-bernoulli": {"architecture": "mnist_conv", "likelihood": "bernoulli"},
    "conv64": {"architecture": "conv64"},
    "mlp-digits": {"architecture": "mlp", "input_shape": [1, 8, 8], "hidden": [32, 16], "latent_dim": 6},
    "mlp-features": {"architecture": "mlp", "input_shape": [160], "likelihood": "bernoulli"},
    "mnist_conv-authors": {"architecture": "mnist_conv", "sigma_parameterisation": "sigma", "init_sigma": 1.0,
                           "output_activation": "relu"},
    "mlp-relu-sigma": {"architecture": "mlp", "input_shape": [1, 8, 8], "hidden": [32], "latent_dim": 6,
                       "sigma_parameterisation": "sigma", "output_activation": "relu"},
    "mlp-infovae": {"architecture": "mlp", "input_shape": [1, 28, 28], "hidden": [500, 500], "latent_dim": 10,
                    "activation": "softplus", "likelihood": "bernoulli"},
}
EXPECTED = {  # (input shape, latent size)
    "mnist_conv": ((1, 28, 28), 128),
    "mnist_conv-bernoulli": ((1, 28, 28), 128),
    "conv64": ((3, 64, 64), 32),
    "mlp-digits": ((1, 8, 8), 6),
    "mlp-features": ((160,), 10),
    "mnist_conv-authors": ((1, 28, 28), 128),
    "mlp-relu-sigma": ((1, 8, 8), 6),
    "mlp-infovae": ((1, 28, 28), 10),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_contract_shapes(name):
    model = build_model(CONFIGS[name])
    shape, d = EXPECTED[name]
    assert model.input_shape == shape and model.latent_dim == d
    x = torch.rand(3, *shape)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, d)
    params = model.decode(mu)
    assert params.shape == (3, *shape)
    assert model.log_likelihood(x, params).shape == (3,)
    assert model.mean(params).shape == (3, *shape)
    out, mu2, logvar2 = model(x, torch.Generator().manual_seed(0))
    assert out.shape == (3, *shape) and torch.equal(mu2, mu) and torch.equal(logvar2, logvar)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_round_trip_rebuilds_identical_model(name):
    model = build_model(CONFIGS[name], seed=3)
    config = json.loads(json.dumps(model.config))  # plain JSON
    assert config == model.config
    rebuilt = build_model(config, seed=3)
    assert rebuilt.config == model.config
    a, b = model.state_dict(), rebuilt.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    other = build_model(config, seed=4)
    assert not torch.equal(other.encoder[-1].weight, model.encoder[-1].weight)  # another seed, other weights
    other.load_state_dict(model.state_dict())
    x = torch.rand(2, *model.input_shape)
    assert torch.equal(other.decode(other.encode(x)[0]), model.decode(model.encode(x)[0]))


def test_build_model_leaves_global_rng_alone():
    before = torch.get_rng_state()
    build_model(CONFIGS["mnist_conv"], seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_mnist_conv_is_the_papers_architecture():
    """Conv(32,k4,s2)-Conv(32,k4,s2)-Dense256-Dense2x128 / Dense256-Dense7*7*32-ConvT(32)-ConvT(1); 28-14-7-14-28."""
    model = build_model(CONFIGS["mnist_conv"])
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    spec = [(type(m).__name__, getattr(m, "in_channels", getattr(m, "in_features", None)),
             getattr(m, "out_channels", getattr(m, "out_features", None)), getattr(m, "kernel_size", None),
             getattr(m, "stride", None)) for m in layers]
    assert spec == [
        ("Conv2d", 1, 32, (4, 4), (2, 2)), ("Conv2d", 32, 32, (4, 4), (2, 2)),
        ("Linear", 7 * 7 * 32, 256, None, None), ("Linear", 256, 2 * 128, None, None),
        ("Linear", 128, 256, None, None), ("Linear", 256, 7 * 7 * 32, None, None),
        ("UpConv", 32, 32, (4, 4), (2, 2)), ("UpConv", 32, 1, (4, 4), (2, 2)),
    ]  # UpConv: an nn.ConvTranspose2d (test_upconv_is_the_transposed_convolution...)
    sizes = _spatial_sizes(model, torch.rand(2, 1, 28, 28))
    assert sizes == [14, 7, 14, 28]
    # ReLU after every layer except the two output layers (mu/logvar and the decoder's mean)
    assert not isinstance(model.encoder[-1], nn.ReLU) and not isinstance(model.decoder[-1], nn.ReLU)
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 6
    assert model.log_sigma.shape == () and model.log_sigma.requires_grad


def test_conv64_layout():
    model = build_model(CONFIGS["conv64"])
    sizes = _spatial_sizes(model, torch.rand(2, 3, 64, 64))
    assert sizes == [32, 16, 8, 4, 8, 16, 32, 64]
    channels = [m.out_channels for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert channels == [32, 32, 64, 64, 64, 32, 32, 3]
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears == [(1024, 256), (256, 64), (32, 256), (256, 1024)]


@pytest.mark.parametrize("geometry", [dict(kernel_size=4, stride=2, padding=1),
                                      dict(kernel_size=3, stride=1, padding=0),
                                      dict(kernel_size=(4, 2), stride=(2, 1), padding=(1, 0))], ids=str)
@pytest.mark.parametrize("out_channels", [1, 3])
@pytest.mark.parametrize("channels_last", [False, True])
def test_upconv_is_the_transposed_convolution_in_value_and_gradient(geometry, out_channels, channels_last):
    """Float64: UpConv's output and the gradients of x, weight and bias equal nn.ConvTranspose2d's to 1e-12 (its
    one-output-channel path computes the forward by GEMM + col2im, 3 output channels take the native path)."""
    native = nn.ConvTranspose2d(5, out_channels, **geometry).double()
    ours = models.UpConv(5, out_channels, **geometry).double()
    ours.load_state_dict(native.state_dict())
    assert list(ours.state_dict()) == ["weight", "bias"]
    x = torch.randn(3, 5, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    results = []
    for layer in (native, ours):
        xi = x.clone().requires_grad_()
        y = layer(xi)
        (y * torch.linspace(-1, 2, y.numel(), dtype=torch.float64).view_as(y)).sum().backward()
        results.append((y.detach(), xi.grad, layer.weight.grad, layer.bias.grad))
    for a, b in zip(*results):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda xx, w, bb: models._SingleChannelUp.apply(xx, w, bb, (2, 2), (1, 1)),
                                    (torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True),
                                     torch.randn(3, 1, 4, 4, dtype=torch.float64, requires_grad=True),
                                     torch.randn(1, dtype=torch.float64, requires_grad=True)))


def test_upconv_under_bf16_autocast_computes_one_channel_in_float32():
    """Under CPU autocast (training precision "bf16") a bfloat16 input meets float32 weights: the one-output-channel
    layer casts the input up and computes in float32, exactly as the float32 layer on that input (output and weight
    gradient equal bitwise), and the input's gradient comes back as bfloat16. More channels: the native layer, which
    autocast runs in bfloat16."""
    x = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(0)).bfloat16()
    layer = models.UpConv(4, 1, 4, 2, 1)
    results = []
    for autocast in (True, False):
        layer.zero_grad()
        xi = x.clone().requires_grad_() if autocast else x.float().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            y = layer(xi)
        (y * torch.linspace(-1, 2, y.numel()).view_as(y)).sum().backward()
        results.append((y, layer.weight.grad.clone(), xi.grad))
    (y_mixed, w_mixed, x_mixed), (y_fp32, w_fp32, x_fp32) = results
    assert y_mixed.dtype == torch.float32 and x_mixed.dtype == torch.bfloat16
    assert torch.equal(y_mixed, y_fp32) and torch.equal(w_mixed, w_fp32)
    assert torch.equal(x_mixed, x_fp32.bfloat16())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert models.UpConv(4, 3, 4, 2, 1)(x).dtype == torch.bfloat16


def _spatial_sizes(model, x) -> list[int]:
    """Output height of every (transposed) convolution during encode + decode."""
    sizes = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: sizes.append(out.shape[-1]))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    model.decode(model.encode(x)[0])
    for h in hooks:
        h.remove()
    return sizes


def test_gaussian_log_likelihood_matches_normal_log_prob():
    """Sum over pixels of log N(x; mean, sigma^2), learned scalar sigma; float64, rtol 1e-12."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    mean = torch.randn(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    log_sigma = torch.tensor(-0.7, dtype=torch.float64)
    expected = torch.distributions.Normal(mean, log_sigma.exp()).log_prob(x).flatten(1).sum(1)
    got = models.gaussian_log_likelihood(x, mean, log_sigma)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    sigma = math.exp(-0.7)
    by_hand = (-0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    torch.testing.assert_close(got, by_hand, rtol=1e-12, atol=0)


def test_model_uses_its_learned_sigma():
    model = build_model({"architecture": "mlp", "input_shape": [6], "init_log_sigma": -1.5})
    assert model.log_sigma.item() == -1.5
    x, mean = torch.rand(3, 6), torch.rand(3, 6)
    expected = torch.distributions.Normal(mean, math.exp(-1.5)).log_prob(x).sum(1)
    torch.testing.assert_close(model.log_likelihood(x, mean), expected, rtol=1e-5, atol=1e-5)


def test_defaults_are_log_sigma_and_a_linear_output():
    """Without the new keys a model is what it was: log sigma learned, no activation on the decoder's output."""
    model = build_model(CONFIGS["mnist_conv"])
    assert model.sigma_parameterisation == "log_sigma" and not hasattr(model, "sigma")
    assert isinstance(model.decoder[-1], nn.ConvTranspose2d)
    # the defaults stay out of the normalised config, so configs from before the options normalise as they did
    explicit = build_model({**CONFIGS["mnist_conv"], "sigma_parameterisation": "log_sigma",
                            "output_activation": "linear"})
    assert explicit.config == model.config and "sigma_parameterisation" not in model.config
    assert "output_activation" not in model.config
    assert [name for name, _ in model.named_parameters()][0] == "log_sigma"


def test_sigma_parameterisation_learns_sigma_itself():
    """The parameter is sigma (initial value init_sigma, default 1.0); log_likelihood is log N(x; mean, sigma^2)."""
    model = build_model({"architecture": "mlp", "input_shape": [6], "sigma_parameterisation": "sigma"})
    assert model.sigma.item() == 1.0 and model.sigma.requires_grad and not hasattr(model, "log_sigma")
    assert dict(model.named_parameters())["sigma"] is model.sigma
    model = build_model({"architecture": "mlp", "input_shape": [6], "sigma_parameterisation": "sigma",
                         "init_sigma": 0.3})
    assert model.sigma.item() == pytest.approx(0.3) and model.config["init_sigma"] == 0.3
    x, mean = torch.rand(3, 6), torch.rand(3, 6)
    expected = torch.distributions.Normal(mean, 0.3).log_prob(x).sum(1)
    torch.testing.assert_close(model.log_likelihood(x, mean), expected, rtol=1e-5, atol=1e-5)
    model.log_likelihood(x, mean).sum().backward()
    assert model.sigma.grad is not None and model.sigma.grad.item() != 0  # the loss trains sigma itself


def test_gaussian_log_likelihood_of_sigma_matches_normal_log_prob_and_is_nan_for_sigma_at_or_below_zero():
    """The authors' formula: sum of (x - mean)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2; float64, rtol 1e-12."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    mean = torch.randn(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    sigma = torch.tensor(0.7, dtype=torch.float64)
    expected = torch.distributions.Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    got = models.gaussian_log_likelihood_sigma(x, mean, sigma)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(got, models.gaussian_log_likelihood(x, mean, sigma.log()), rtol=1e-12, atol=0)
    for bad in (-0.7, 0.0):  # log of a negative sigma is NaN; at 0, inf - inf
        assert torch.isnan(models.gaussian_log_likelihood_sigma(x, mean, torch.tensor(bad, dtype=torch.float64))).all()


@pytest.mark.parametrize("name", ["mnist_conv", "mlp-digits"])
def test_relu_output_adds_a_relu_and_nothing_else(name):
    """Same layers, parameter names and initial weights as the linear output, plus a ReLU: decoded means >= 0."""
    linear = build_model(CONFIGS[name], seed=5)
    relu = build_model({**CONFIGS[name], "output_activation": "relu"}, seed=5)
    assert isinstance(relu.decoder[-1], nn.ReLU) and not isinstance(linear.decoder[-1], nn.ReLU)
    assert len(relu.decoder) == len(linear.decoder) + 1
    assert [type(m) for m in relu.decoder][:-1] == [type(m) for m in linear.decoder]
    a, b = linear.state_dict(), relu.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    z = 3 * torch.randn(64, linear.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (linear.decode(z) < 0).any()
        torch.testing.assert_close(relu.decode(z), linear.decode(z).clamp(min=0), rtol=0, atol=0)


def test_bernoulli_log_likelihood_is_minus_bce():
    """-BCE summed over pixels (binary and grey-level targets); float64, rtol 1e-12."""
    gen = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(4, 1, 6, 6, generator=gen, dtype=torch.float64)
    for x in (torch.rand(4, 1, 6, 6, generator=gen, dtype=torch.float64),
              torch.randint(0, 2, (4, 1, 6, 6), generator=gen).double()):
        got = models.bernoulli_log_likelihood(x, logits)
        bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
        torch.testing.assert_close(got, -bce, rtol=1e-12, atol=1e-12)
        p = torch.sigmoid(logits)
        by_hand = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
        torch.testing.assert_close(got, by_hand, rtol=1e-10, atol=1e-10)
    model = build_model(CONFIGS["mnist_conv-bernoulli"])
    assert not hasattr(model, "log_sigma")
    torch.testing.assert_close(model.mean(logits), torch.sigmoid(logits))


def test_reparameterize_is_seeded_and_has_the_right_moments():
    mu = torch.tensor([[0.5, -2.0, 0.0]]).expand(200_000, 3)
    logvar = torch.tensor([[0.0, math.log(0.25), math.log(4.0)]]).expand(200_000, 3)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.equal(z, reparameterize(mu, logvar, torch.Generator().manual_seed(0)))
    # standard errors: sigma / sqrt(n) <= 2 / 447 = 0.0045 for the mean; tolerance 0.02 (> 4 SE)
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5, 2.0]), atol=0.02, rtol=0)


@pytest.mark.parametrize("config, match", [
    ({"architecture": "resnet"}, r"unknown architecture 'resnet'; choose one of \('mnist_conv', 'conv64', 'mlp'\)"),
    ({"architecture": "mnist_conv", "likelihood": "laplace"}, r"unknown likelihood 'laplace'.*gaussian.*bernoulli"),
    ({"architecture": "mnist_conv", "latent": 3}, r"unknown key\(s\) \['latent'\].*valid keys.*latent_dim"),
    ({"architecture": "mnist_conv", "likelihood": "bernoulli", "init_log_sigma": 0.0}, r"unknown key.*init_log_sigma"),
    ({"architecture": "mnist_conv", "likelihood": "bernoulli", "sigma_parameterisation": "sigma"},
     r"unknown key.*sigma_parameterisation"),
    ({"architecture": "mnist_conv", "sigma_parameterisation": "exp"},
     r"unknown sigma_parameterisation 'exp'; choose one of \('log_sigma', 'sigma'\)"),
    ({"architecture": "mnist_conv", "init_sigma": 1.0},
     r"unknown key\(s\) \['init_sigma'\].*log_sigma parameterisation"),
    ({"architecture": "mnist_conv", "sigma_parameterisation": "sigma", "init_log_sigma": 0.0},
     r"unknown key\(s\) \['init_log_sigma'\].*sigma parameterisation.*init_sigma"),
    ({"architecture": "mlp", "input_shape": [8], "sigma_parameterisation": "sigma", "init_sigma": 0.0},
     r"init_sigma must be a positive number"),
    ({"architecture": "mlp", "input_shape": [8], "sigma_parameterisation": "sigma", "init_sigma": -1.0},
     r"init_sigma must be a positive number"),
    ({"architecture": "mnist_conv", "output_activation": "sigmoid"},
     r"unknown output_activation 'sigmoid'; choose one of \('linear', 'relu'\)"),
    ({"architecture": "mnist_conv", "likelihood": "bernoulli", "output_activation": "relu"}, r"logits need 'linear'"),
    ({"architecture": "mlp"}, r"needs 'input_shape'"),
    ({"architecture": "mlp", "input_shape": [8], "activation": "tanh"},
     r"unknown activation 'tanh'; choose one of \('relu', 'softplus'\)"),
    ({"architecture": "mnist_conv", "activation": "softplus"}, r"unknown key\(s\) \['activation'\] in the mnist_conv"),
    ({"architecture": "mnist_conv", "input_shape": [1, 30, 30]}, r"divisible by 4"),
    ({"architecture": "conv64", "input_shape": [64, 64]}, r"\[C, H, W\]"),
    ({"architecture": "mlp", "input_shape": [8], "hidden": [16, 0]}, r"hidden must be"),
    ({"architecture": "mlp", "input_shape": [8], "latent_dim": 2.5}, r"latent_dim must be"),
    # a bool or a whole float is not an integer (vaeinfo.checks): True was read as 1, 2.0 as 2
    ({"architecture": "mlp", "input_shape": [8], "latent_dim": True}, r"latent_dim must be .*got \[True\]"),
    ({"architecture": "mlp", "input_shape": [8.0]}, r"input_shape must be .*got \[8.0\]"),
    ({"architecture": "mlp", "input_shape": [8], "hidden": 16}, r"hidden must be a list of positive integers"),
    ({"architecture": "mnist_conv", "init_log_sigma": float("nan")}, r"init_log_sigma must be a finite number"),
    ({"architecture": "mnist_conv", "init_log_sigma": True}, r"init_log_sigma must be a finite number.*got True"),
    ({"architecture": "mlp", "input_shape": [8], "sigma_parameterisation": "sigma", "init_sigma": float("inf")},
     r"init_sigma must be a finite number"),
    ({"latent_dim": 3}, r"'architecture' key"),
])
def test_bad_configs_are_clear_errors(config, match):
    with pytest.raises(ValueError, match=match):
        build_model(config)


def test_wrong_input_shapes_are_clear_errors():
    model = build_model(CONFIGS["mnist_conv"])
    with pytest.raises(ValueError, match=r"mnist_conv model expects input of shape \(n, 1, 28, 28\), got \(2, 784\)"):
        model.encode(torch.rand(2, 784))
    with pytest.raises(ValueError, match=r"expects input of shape \(n, 1, 28, 28\), got \(2, 1, 8, 8\)"):
        model.encode(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"decode expects latent codes of shape \(n, 128\), got \(2, 10\)"):
        model.decode(torch.rand(2, 10))


def test_infovae_architecture_is_the_authors():
    """Ducau & Trenous (fducau/infoVAE): 784-500-500 softplus -> (mu, log sigma^2) of d = 10; 10-500-500-784 softplus
    with a sigmoid (Bernoulli) output; Xavier-uniform weights within +-sqrt(6 / (fan_in + fan_out)), zero biases."""
    model = build_model(CONFIGS["mlp-infovae"], seed=0)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 500), (500, 500), (500, 20), (10, 500),
                                                                   (500, 500), (500, 784)]
    assert sum(isinstance(m, nn.Softplus) for m in model.modules()) == 4
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert not hasattr(model, "log_sigma") and model.likelihood == "bernoulli"
    for m in linears:
        bound = math.sqrt(6.0 / (m.in_features + m.out_features))
        assert m.weight.abs().max() <= bound and torch.all(m.bias == 0)
        # uniform on [-b, b]: standard deviation b / sqrt(3); 5,000+ weights give it to within 3 %
        assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = F.softplus(linears[1](F.softplus(linears[0](x.flatten(1)))))
        torch.testing.assert_close(model.encode(x)[0], linears[2](hidden)[:, :10], rtol=1e-6, atol=1e-6)
        mean = model.mean(model.decode(torch.zeros(2, 10)))
    assert torch.all((mean > 0) & (mean < 1))


def test_softplus_changes_the_activation_and_nothing_else():
    """Same parameter names and initial weights as ReLU; other outputs; the default "relu" stays out of the config."""
    relu = build_model(CONFIGS["mlp-digits"], seed=5)
    softplus = build_model({**CONFIGS["mlp-digits"], "activation": "softplus"}, seed=5)
    a, b = relu.state_dict(), softplus.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert [type(m) for m in softplus.encoder] == [nn.Flatten, nn.Linear, nn.Softplus, nn.Linear, nn.Softplus,
                                                   nn.Linear]
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.allclose(relu.encode(x)[0], softplus.encode(x)[0])
    assert softplus.config["activation"] == "softplus" and "activation" not in relu.config
    explicit = build_model({**CONFIGS["mlp-digits"], "activation": "relu"}, seed=5)
    assert explicit.config == relu.config
