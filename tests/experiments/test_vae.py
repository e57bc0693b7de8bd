"""vaeinfo.experiments.vae.vae_config: the defaults build exactly the models of the code before the authors'
options existed (issue 16), and each option lands in the config key it names."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from vaeinfo.experiments.vae import vae_config
from vaeinfo.models.architectures import build_model
from vaeinfo.training.config import normalize_config

# SHA-256 over (name, shape, bytes) of each state_dict entry of build_model(normalize_config(vae_config(...))["model"],
# seed=0), computed with the committed code before issue 16 (commit e363311): image shape, latent_dim, beta, init_sigma
# as the quick profile (MNIST, CelebA), the digits fallback and the DEAP notebook call vae_config.
BEFORE = {
    "mnist_conv": (((1, 28, 28), 128, 10.0, 0.1),
                   "0b3f24137b1aa863cbbbbdcd8043491ad49286ef7af636b64bcd45447b0dcd6e"),
    "conv64": (((3, 64, 64), 128, 40.0, 0.1), "dca511dabbf72ab56528c9dd532c6707e621d64d5cd62c7868611773310c381d"),
    "mlp-digits": (((1, 8, 8), 32, 4.0, 0.1), "5f55db1f662d9006eb4cc39ab9f4fbbb5c80ff1543c3b9589cb3b0910130ecd3"),
    "mlp-deap": (((148,), 32, 2.0, 0.5), "65fa825810cdc2af3caf7f36b5ea2736c8a0ff64c763e16a3109058a3fd2650d"),
}


def state_dict_sha256(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(value.shape)).encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name", BEFORE)
def test_default_options_build_the_same_initial_weights_as_before(name):
    (shape, latent_dim, beta, init_sigma), expected = BEFORE[name]
    config = normalize_config(vae_config(shape, latent_dim=latent_dim, beta=beta, epochs=5, seed=0,
                                         init_sigma=init_sigma))
    model = build_model(config["model"], seed=0)
    assert state_dict_sha256(model) == expected
    assert next(iter(model.state_dict())) == "log_sigma"
    assert model.log_sigma.item() == pytest.approx(math.log(init_sigma))
    assert config["optimizer"] == {"name": "adam", "lr": 1e-3}  # torch's eps 1e-8, left out as before
    assert not {"sigma_parameterisation", "output_activation"} & set(config["model"])


def test_the_options_land_in_their_config_keys():
    config = vae_config((1, 28, 28), latent_dim=128, beta=6.0, epochs=100, seed=0, init_sigma=1.0,
                        sigma_parameterisation="sigma", output_activation="relu", adam_eps=1e-7)
    assert config["model"] == {"architecture": "mnist_conv", "input_shape": [1, 28, 28], "latent_dim": 128,
                               "likelihood": "gaussian", "sigma_parameterisation": "sigma", "init_sigma": 1.0,
                               "output_activation": "relu"}
    assert config["optimizer"] == {"name": "adam", "lr": 1e-3, "eps": 1e-7}
    assert config["objective"] == {"name": "beta_vae", "beta": 6.0}
    default = vae_config((1, 28, 28), latent_dim=128, beta=10.0, epochs=5, seed=0, init_sigma=0.1)
    assert default["model"]["init_log_sigma"] == math.log(0.1) and "init_sigma" not in default["model"]
    for bad in (0.0, -1.0, float("nan"), True, "0.1"):  # 0 was "math domain error" from the log
        with pytest.raises(ValueError, match=r"init_sigma \(the decoder's initial σ, pixel units\) must be a finite "
                                             r"number > 0"):
            vae_config((1, 28, 28), latent_dim=4, beta=1.0, epochs=1, seed=0, init_sigma=bad)
    with pytest.raises(ValueError, match=r"unknown sigma_parameterisation 'exp'"):
        normalize_config(vae_config((1, 28, 28), latent_dim=4, beta=1.0, epochs=1, seed=0, init_sigma=1.0,
                                    sigma_parameterisation="exp"))
