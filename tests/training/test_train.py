"""vaeinfo.train: learning on real MNIST, bitwise seeding and resume, the cache, checkpoint errors, NaN, encode.

Most tests use a tiny conv VAE on scikit-learn's real 8x8 digits (always present, fractions of a second);
the learning test uses the paper's architecture on a real MNIST subset from $VAEINFO_DATA.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vaeinfo.data.mnist import load_digits, load_mnist
from vaeinfo.io import resolve_cache_dir
from vaeinfo.models.objectives import batch_terms
from vaeinfo.models.objectives.tcvae import tcvae_terms
from vaeinfo.training import checkpoint
from vaeinfo.training import train as tr
from vaeinfo.training.checkpoint import CheckpointError, cache_key, load_model
from vaeinfo.training.config import normalize_config
from vaeinfo.training.encode import encode
from vaeinfo.training.train import TrainingDivergedError, train

TINY = {
    "model": {"architecture": "mnist_conv", "input_shape": [1, 8, 8], "channels": [4, 4], "hidden": [16],
              "latent_dim": 4},
    "objective": {"name": "beta_vae", "beta": 2.0, "warmup_epochs": 2},
    "batch_size": 50,
    "epochs": 3,
    "seed": 0,
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the user's cache: $VAEINFO_CACHE points into the test's temporary folder."""
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "env-cache"))


@pytest.fixture(scope="module")
def digits():
    """(train, validation): 300 and 100 real 8x8 digits."""
    return load_digits("train", n=300), load_digits("validation", n=100)


@pytest.fixture
def epochs_run(monkeypatch) -> list[int]:
    """Record every training epoch that runs in this test."""
    calls, real = [], tr._train_epoch

    def counting(state, *args, **kwargs):
        calls.append(state.epoch)
        return real(state, *args, **kwargs)

    monkeypatch.setattr(tr, "_train_epoch", counting)
    return calls


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_few_epochs_on_real_mnist_lower_the_validation_loss(mnist_root, tmp_path):
    """The paper's architecture (latent 128, Gaussian, learned sigma), 2,000 train / 500 validation images."""
    train_data = load_mnist("train", mnist_root, n=2000)
    val_data = load_mnist("validation", mnist_root, n=500)
    config = {"model": {"architecture": "mnist_conv"}, "objective": {"beta": 1.0}, "epochs": 3}
    result = train(config, train_data, val_data, cache_dir=tmp_path, progress=False)
    val = [h["val_loss"] for h in result.history]
    assert len(val) == 3 and val[0] > val[1] > val[2], val
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["val_neg_elbo"] == pytest.approx(val[-1])  # beta = 1: loss = -ELBO
    assert len(result.history[-1]["val_kl_per_factor"]) == 128
    assert result.model.log_sigma.item() < 0  # the learned sigma moved below its start, 1


def test_history_records_terms_and_schedule(digits, tmp_path):
    result = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert [h["beta"] for h in result.history] == [1.0, 2.0, 2.0]  # warm-up over 2 epochs, value at epoch end
    for h in result.history:
        assert h["val_loss"] == pytest.approx(h["val_recon"] + h["beta"] * h["val_kl"], rel=1e-6)
        assert sum(h["val_kl_per_factor"]) == pytest.approx(h["val_kl"], rel=1e-5)
    assert not result.cached and result.epochs_trained == 3 and result.key == cache_key(TINY, *digits)
    saved = json.loads((result.path / tr.CONFIG_JSON).read_text())
    assert saved["key"] == result.key and saved["config"] == result.config
    assert saved["code"] == checkpoint.code_fingerprint() and "vaeinfo" not in saved


def test_each_step_takes_the_warm_up_after_its_own_count_as_chen_et_al(digits, tmp_path, monkeypatch):
    """Step b (from 0) of epoch e trains at progress e + (b + 1) / steps: with a warm-up of W steps the first step
    has beta / W (Chen et al.'s anneal_kl at iteration 1), not 0, and the last step of a warm-up epoch has the value
    the history records for that epoch."""
    seen, real = [], tr._batch_terms

    def recording(model, x, objective, t, *args, **kwargs):
        if model.training:  # not the validation pass
            seen.append(t)
        return real(model, x, objective, t, *args, **kwargs)

    monkeypatch.setattr(tr, "_batch_terms", recording)
    result = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    steps = 6  # 300 digits in batches of 50
    assert seen == [e + (b + 1) / steps for e in range(3) for b in range(steps)]
    first = tr.schedule_values(result.config["objective"], seen[0])["beta"]
    assert first == pytest.approx(2.0 / (2 * steps), abs=1e-12)  # beta / W, W = 2 epochs of 6 steps
    assert [tr.schedule_values(result.config["objective"], seen[b])["beta"] for b in (5, 11)] == [1.0, 2.0]


def test_same_seed_gives_bitwise_identical_weights(digits, tmp_path):
    a = train(TINY, *digits, cache_dir=tmp_path / "a", progress=False)
    b = train(TINY, *digits, cache_dir=tmp_path / "b", progress=False)
    assert same_weights(a.model, b.model)
    assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]
    c = train({**TINY, "seed": 1}, *digits, cache_dir=tmp_path / "c", progress=False)
    assert not torch.equal(c.model.encoder[0].weight, a.model.encoder[0].weight)


@pytest.mark.parametrize("objective", [TINY["objective"], {"name": "factor_vae", "gamma": 6.0},
                                       {"name": "mi_regularised", "lambda": 1.0}], ids=lambda o: o["name"])
def test_training_leaves_global_rngs_alone(digits, tmp_path, objective):
    """FactorVAE's discriminator layers drew their default initialisation from torch's global generator."""
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    train({**TINY, "objective": objective}, *digits, cache_dir=tmp_path, progress=False)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # the whole state: the key array alone stays the same for up to 624 draws
    assert np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]


@pytest.mark.parametrize("objective", [
    TINY["objective"],
    {"name": "capacity", "gamma": 10, "capacity_max": 4, "capacity_epochs": 2},
    {"name": "beta_tcvae", "beta": 4.0, "warmup_epochs": 1},
    {"name": "factor_vae", "gamma": 6.0},  # its discriminator and the discriminator's Adam state resume too
    {"name": "mi_regularised", "lambda": 1.0},
], ids=lambda objective: objective["name"])
def test_resume_after_interruption_gives_the_uninterrupted_weights(digits, tmp_path, stopped_in_epoch_2, objective):
    config = {**TINY, "objective": objective}
    full = train(config, *digits, cache_dir=tmp_path / "full", progress=False)
    with stopped_in_epoch_2():  # Ctrl-C / kernel restart in the middle of epoch 2
        train(config, *digits, cache_dir=tmp_path / "cut", progress=False)
    resumed = train(config, *digits, cache_dir=tmp_path / "cut", progress=False)
    assert resumed.epochs_trained == 2 and not resumed.cached
    assert same_weights(resumed.model, full.model)
    def drop(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert drop(resumed.history) == drop(full.history)


def test_second_call_hits_the_cache_without_training(digits, tmp_path, epochs_run):
    first = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert epochs_run == [0, 1, 2]
    second = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert epochs_run == [0, 1, 2]  # no epoch ran
    assert second.cached and second.epochs_trained == 0 and second.key == first.key
    assert same_weights(second.model, first.model) and second.history == first.history
    assert not second.model.training


def test_a_second_caller_of_one_run_waits_and_then_reuses_it(digits, tmp_path, monkeypatch, capsys):
    """Without train()'s lock, a notebook opened by hand during ./reproduce.sh (the same run) trained it again and
    wrote its earlier epochs over the finished checkpoint."""
    import threading
    import time

    held, release, epochs, real = threading.Event(), threading.Event(), [], tr._train_epoch

    def paused(state, *args, **kwargs):  # the first trainer waits in its first epoch until the second one queues
        epochs.append(state.epoch)
        if state.epoch == 0 and not release.is_set():
            held.set()
            release.wait(timeout=60)
        return real(state, *args, **kwargs)

    monkeypatch.setattr(tr, "_train_epoch", paused)
    results = {}
    runs = {name: threading.Thread(target=lambda n=name: results.__setitem__(
        n, train(TINY, *digits, cache_dir=tmp_path, progress=n == "second"))) for name in ("first", "second")}
    runs["first"].start()
    assert held.wait(timeout=60)
    runs["second"].start()
    seen, deadline = "", time.monotonic() + 20
    while "waiting for another process that is training" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
        seen += capsys.readouterr().err
    release.set()
    for thread in runs.values():
        thread.join(timeout=120)
    assert "waiting for another process that is training" in seen
    assert epochs == [0, 1, 2]  # trained once
    assert not results["first"].cached and results["second"].cached
    assert checkpoint.read_checkpoint(results["first"].path / checkpoint.CHECKPOINT)["epoch"] == 3
    assert same_weights(results["first"].model, results["second"].model)


def test_a_run_resumed_with_another_thread_count_warns(digits, tmp_path, stopped_in_epoch_2, monkeypatch):
    with stopped_in_epoch_2():
        train(TINY, *digits, cache_dir=tmp_path, progress=False)
    path = tmp_path / "models" / cache_key(TINY, *digits) / checkpoint.CHECKPOINT
    threads = checkpoint.read_checkpoint(path)["threads"]
    assert threads == torch.get_num_threads()
    monkeypatch.setattr(tr, "configure_cpu", lambda: threads + 1)
    with pytest.warns(UserWarning, match=rf"first epochs trained with {threads} CPU thread\(s\), this process "
                                         rf"resumes it with {threads + 1}.*OMP_NUM_THREADS={threads}"):
        train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert checkpoint.read_checkpoint(path)["threads"] is None  # mixed: a later resume has nothing to compare with


PINNED_CODE = {"sha256": "0" * 64, "files": ["vaeinfo.models.objectives"]}


@pytest.mark.parametrize("config, data, validation, key", [
    ({"model": {"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 2, "hidden": [8]}},
     torch.zeros((10, 1, 8, 8)), None, "mlp-020fb69df45877457d35"),
    ({"model": {"architecture": "mnist_conv"}, "epochs": 2},
     torch.zeros((4, 1, 28, 28)), torch.zeros((2, 1, 28, 28)), "mnist_conv-ee7501517a475a3cd230"),
    ({"model": {"architecture": "mnist_conv"}},
     torch.zeros((4, 1, 28, 28), dtype=torch.uint8), None, "mnist_conv-4428be7946c001482902"),
])
def test_builtin_keys_are_pinned(config, data, validation, key, monkeypatch):
    """For fixed training code, how config and data enter the key must never change (results record keys)."""
    monkeypatch.setattr(checkpoint, "code_fingerprint", lambda: PINNED_CODE)
    assert cache_key(config, data, validation) == key


def test_the_key_changes_with_config_data_and_code(digits, monkeypatch):
    key = cache_key(TINY, *digits)
    assert cache_key({**TINY, "seed": 1}, *digits) != key
    assert cache_key(TINY, digits[0].images[:-1], digits[1]) != key
    changed = digits[0].images.clone()
    changed[0, 0, 0, 0] += 0.5
    assert cache_key(TINY, changed, digits[1]) != key
    assert cache_key(TINY, digits[0]) != key  # no validation set
    assert cache_key(TINY, digits[0].images.numpy(), digits[1]) == key  # same data, other container
    edited = {**checkpoint.code_fingerprint(), "sha256": "0" * 64}
    monkeypatch.setattr(checkpoint, "code_fingerprint", lambda: edited)
    assert cache_key(TINY, *digits) != key  # the code itself: tests/training/test_checkpoint.py


def test_force_retrains(digits, tmp_path, epochs_run):
    first = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    again = train(TINY, *digits, cache_dir=tmp_path, force=True, progress=False)
    assert epochs_run == [0, 1, 2, 0, 1, 2]
    assert not again.cached and again.epochs_trained == 3 and same_weights(again.model, first.model)


def test_truncated_checkpoint_is_a_clear_error_and_kept(digits, tmp_path, epochs_run):
    path = train(TINY, *digits, cache_dir=tmp_path, progress=False).path / tr.CHECKPOINT
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt cannot be read .*truncated or corrupt.*force=True"):
        train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert path.read_bytes() == data[: len(data) // 2] and epochs_run == [0, 1, 2]  # not retrained over
    with pytest.raises(CheckpointError, match=str(path)):
        load_model(path)
    fixed = train(TINY, *digits, cache_dir=tmp_path, force=True, progress=False)
    assert fixed.epochs_trained == 3 and path.stat().st_size == len(data)


def test_checkpoint_of_another_run_is_a_clear_error(digits, tmp_path, epochs_run):
    other = train({**TINY, "seed": 7}, *digits, cache_dir=tmp_path, progress=False)
    folder = tmp_path / "models" / cache_key(TINY, *digits)
    folder.mkdir(parents=True)
    shutil.copy(other.path / tr.CHECKPOINT, folder / tr.CHECKPOINT)
    with pytest.raises(CheckpointError, match=r"belongs to a different run.*delete the run's folder and run again "
                                              r".*, or pass force=True"):
        train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert (folder / tr.CHECKPOINT).read_bytes() == (other.path / tr.CHECKPOINT).read_bytes()
    assert epochs_run == [0, 1, 2]


def test_checkpoint_with_wrong_architecture_keys_is_a_clear_error(digits, tmp_path):
    result = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    path = result.path / tr.CHECKPOINT
    payload = torch.load(path, weights_only=True)
    payload["model"] = {"encoder.0.weight": torch.zeros(3), **{k: v for k, v in payload["model"].items()
                                                              if not k.startswith("decoder.")}}
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"does not fit the mnist_conv model.*Missing key.*decoder"):
        train(TINY, *digits, cache_dir=tmp_path, progress=False)
    assert path.exists()


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=r"is not a vaeinfo checkpoint"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at 'mlp-0123'"):
        load_model("mlp-0123", cache_dir=tmp_path)


def test_load_model_by_key_folder_or_file(digits, tmp_path):
    result = train(TINY, *digits, cache_dir=tmp_path, progress=False)
    for ref in (result.key, result.path, result.path / tr.CHECKPOINT):
        model = load_model(ref, cache_dir=tmp_path)
        assert same_weights(model, result.model) and not model.training and model.config == result.config["model"]


def test_cache_dir_from_environment(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEINFO_CACHE", str(tmp_path / "from-env"))
    assert resolve_cache_dir() == tmp_path / "from-env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    result = train(TINY, *digits, progress=False)
    assert result.path.parent == tmp_path / "from-env" / "models"
    assert load_model(result.key) is not None


def test_messages_name_the_run_folder_without_this_machines_path(digits, capsys, stopped_in_epoch_2):
    """Resume message and unfinished-run warning print $VAEINFO_CACHE/..., as committed notebook outputs must."""
    with stopped_in_epoch_2():
        train(TINY, *digits, progress=False)
    key = cache_key(TINY, *digits)
    with pytest.warns(UserWarning, match=rf"^\$VAEINFO_CACHE/models/{key}/checkpoint\.pt is from an unfinished run"):
        load_model(key)
    train(TINY, *digits)
    assert f"vaeinfo: resuming $VAEINFO_CACHE/models/{key} after epoch 1/3" in capsys.readouterr().err


def test_nan_is_detected_with_the_step_and_a_fix(digits, tmp_path):
    config = {**TINY, "optimizer": {"name": "adam", "lr": 10.0}}
    with pytest.raises(TrainingDivergedError, match=r"loss is nan at epoch 1, step \d+/6 .*lower the learning rate "
                                                    r"\(now 10\) or beta"):
        train(config, *digits, cache_dir=tmp_path, progress=False)


def test_capacity_objective_and_bernoulli_likelihood_train(digits, tmp_path):
    config = {**TINY, "model": {**TINY["model"], "likelihood": "bernoulli"},
              "objective": {"name": "capacity", "gamma": 10, "capacity_max": 4, "capacity_epochs": 2}}
    result = train(config, *digits, cache_dir=tmp_path, progress=False)
    assert [h["capacity"] for h in result.history] == [2.0, 4.0, 4.0]
    for h in result.history:
        assert h["val_loss"] == pytest.approx(h["val_recon"] + 10 * abs(h["val_kl"] - h["capacity"]), rel=1e-6)


def test_encode_matches_the_model_in_any_batch_size(digits, tmp_path):
    model = train(TINY, *digits, cache_dir=tmp_path, progress=False).model
    mu, logvar = encode(model, digits[1], batch_size=1000)
    assert mu.shape == logvar.shape == (100, 4) and mu.dtype == np.float64
    with torch.no_grad():
        ref_mu, ref_logvar = model.encode(digits[1].images)
    np.testing.assert_allclose(mu, ref_mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar, ref_logvar.numpy(), rtol=1e-5, atol=1e-6)
    mu7, _ = encode(model, digits[1].images.numpy(), batch_size=7, dtype=np.float32)
    assert mu7.dtype == np.float32
    np.testing.assert_allclose(mu7, mu, rtol=1e-5, atol=1e-6)


def test_evaluate_is_deterministic(digits, tmp_path):
    model = train(TINY, *digits, cache_dir=tmp_path, progress=False).model
    a = tr.evaluate(model, digits[1], {"beta": 2.0}, seed=3)
    assert a == tr.evaluate(model, digits[1], {"beta": 2.0}, seed=3)
    assert a["loss"] == pytest.approx(a["recon"] + 2.0 * a["kl"]) and len(a["kl_per_factor"]) == 4


@pytest.mark.parametrize("config, match", [
    ({**TINY, "epoch": 3}, r"unknown training config key\(s\) \['epoch'\]; valid keys"),
    ({**TINY, "optimizer": {"name": "sgd"}}, r"optimizer must be .*'adam'"),
    ({**TINY, "optimizer": {"name": "adam", "eps": 0.0}},
     r"optimizer eps \(Adam's eps\) must be a positive number, got 0.0"),
    ({**TINY, "optimizer": "adam"}, r"optimizer must be \{'name': one of \('adam',\).*got 'adam'"),
    ({**TINY, "optimizer": {"lr": None}}, r"optimizer lr \(the learning rate\) must be a positive number, got None"),
    ({**TINY, "optimizer": {"lr": "1e-3x"}}, r"optimizer lr \(the learning rate\) must be a positive number, got "
                                             r"'1e-3x'"),
    ({**TINY, "optimizer": {"name": "adam", "beta1": 0.5}}, r"optimizer must be .*'eps': float \(optional\)"),
    ({**TINY, "batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
    ({**TINY, "epochs": 2.5}, r"epochs must be an integer >= 1, got 2.5"),
    ({**TINY, "seed": None}, r"seed must be an integer >= 0, got None"),
    ({**TINY, "model": {"architecture": "vgg"}}, r"unknown architecture 'vgg'; choose one of"),
    ({"epochs": 3}, r"a training config is a dict with a 'model' entry"),
    ({**TINY, "objective": {"name": "beta_tcvae"}, "batch_size": 1},
     r"the beta_tcvae objective needs batches of at least 2 examples, but batch_size is 1; make batch_size at least 2"),
    ({**TINY, "objective": {"name": "factor_vae"}, "batch_size": 1},
     r"the factor_vae objective needs batches of at least 2 examples, but batch_size is 1"),
    ({**TINY, "objective": {"name": "mi_regularised", "c_dims": [0, 4]}},
     r"c_dims \[0, 4\] do not fit a latent code of 4 dimensions; give indices in 0\.\.3"),
])
def test_bad_configs(config, match, digits, tmp_path):
    """Every bad config is a ValueError before anything is written (a c_dims outside the latent code, or a batch
    too small for the objective, would otherwise fail at the first step or train a meaningless estimator)."""
    with pytest.raises(ValueError, match=match):
        train(config, *digits, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("split", ["data", "validation"])
def test_data_smaller_than_the_objectives_batch_is_an_error_before_anything_is_written(digits, tmp_path, split):
    config = {**TINY, "objective": {"name": "beta_tcvae"}, "batch_size": 2}
    assert normalize_config(config)["batch_size"] == 2  # the objective's minimum itself is a valid batch size
    data = {"data": digits[0].images, "validation": digits[1].images}
    data[split] = data[split][:1]
    with pytest.raises(ValueError, match=rf"the beta_tcvae objective needs batches of at least 2 examples, but "
                                         rf"len\({split}\) is 1; make len\({split}\) at least 2"):
        train(config, data["data"], data["validation"], cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()


def test_evaluate_needs_a_batch_of_the_objectives_size(digits):
    model = tr._fresh(normalize_config(TINY), torch.device("cpu")).model
    objective = {"name": "beta_tcvae"}
    with pytest.raises(ValueError, match=r"beta_tcvae objective needs batches of at least 2 examples, but len\(data\)"):
        tr.evaluate(model, digits[1].images[:1], objective)
    with pytest.raises(ValueError, match=r"beta_tcvae objective needs batches of at least 2 examples, but batch_size"):
        tr.evaluate(model, digits[1], objective, batch_size=1)


@pytest.mark.parametrize("optimizer, eps, normalised", [
    ({"name": "adam"}, 1e-8, {"name": "adam", "lr": 1e-3}),
    ({"name": "adam", "eps": 1e-8}, 1e-8, {"name": "adam", "lr": 1e-3}),
    ({"name": "adam", "eps": 1e-7}, 1e-7, {"name": "adam", "lr": 1e-3, "eps": 1e-7}),
])
def test_adam_eps_reaches_the_optimizer_the_loop_builds(optimizer, eps, normalised):
    """eps defaults to torch's 1e-8 (the optimizer of every earlier run; left out of the normalised config, which
    therefore enters the cache key as before); 1e-7 is Keras' (the authors' notebook)."""
    cfg = normalize_config({**TINY, "optimizer": optimizer})
    assert cfg["optimizer"] == normalised
    [group] = tr._fresh(cfg, torch.device("cpu")).optimizer.param_groups
    assert group["eps"] == eps and group["lr"] == 1e-3


def test_bad_data(digits, tmp_path):
    with pytest.raises(ValueError, match=r"data must be a non-empty batch of shape \(n, 1, 8, 8\) for the mnist_conv"):
        train(TINY, torch.rand(10, 1, 28, 28), cache_dir=tmp_path, progress=False)
    nan = digits[0].images.clone()
    nan[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r"data contains NaN or inf"):
        train(TINY, nan, cache_dir=tmp_path, progress=False)
    with pytest.raises(TypeError, match=r"images must be floating point.*or uint8 pixels 0-255; got torch.int64"):
        train(TINY, (digits[0].images * 255).to(torch.int64), cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()


def test_uint8_images_train_the_same_weights_as_their_float_conversion(digits, tmp_path):
    """uint8 pixels are scaled by 1/255 batch by batch: the same numbers as converting first, bitwise."""
    pixels = [(d.images * 255).round().to(torch.uint8) for d in digits]
    floats = [p.to(torch.float32) / 255 for p in pixels]
    from_uint8 = train(TINY, *pixels, cache_dir=tmp_path, progress=False)
    from_float = train(TINY, *floats, cache_dir=tmp_path, progress=False)
    assert from_uint8.key != from_float.key  # the data fingerprint records the dtype
    assert same_weights(from_uint8.model, from_float.model)
    assert [h["val_loss"] for h in from_uint8.history] == [h["val_loss"] for h in from_float.history]
    np.testing.assert_array_equal(encode(from_uint8.model, pixels[1])[0], encode(from_uint8.model, floats[1])[0])


def test_progress_prints_one_summary_line_per_epoch(digits, capsys):
    run = train(TINY, *digits)  # in $VAEINFO_CACHE (private_cache)
    err = capsys.readouterr().err
    assert [line.split("  ")[0] for line in err.replace("\r", "\n").splitlines() if line.startswith("epoch ")] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    train(TINY, *digits)
    # the run folder as display_path writes it: no absolute path of this machine in committed notebook outputs
    assert f"reusing the trained model in $VAEINFO_CACHE/models/{run.key} (pass" in capsys.readouterr().err


def test_precision_defaults_to_fp32_and_rejects_unknown_values(digits, tmp_path):
    """fp32 is left out of the normalised config (the cache keys of earlier runs stay); bf16 is kept."""
    assert normalize_config({**TINY, "precision": "fp32"}) == normalize_config(TINY)
    assert normalize_config({**TINY, "precision": "bf16"})["precision"] == "bf16"
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\), got 'fp16'"):
        train({**TINY, "precision": "fp16"}, *digits, cache_dir=tmp_path, progress=False)


def _step_gradients(cfg: dict, x: torch.Tensor) -> torch.Tensor:
    """All parameter gradients (flattened) of one training step of a fresh model of ``cfg`` on ``x``."""
    state = tr._fresh(cfg, torch.device("cpu"))
    terms = tr._batch_terms(state.model, x, cfg["objective"], 0.0, state.noise, len(x),
                            precision=cfg.get("precision", "fp32"))
    terms["loss"].backward()
    return torch.cat([p.grad.flatten() for p in state.model.parameters()])


def test_bf16_gradients_agree_with_fp32_to_bfloat16_precision(digits):
    """The same step in both precisions from the same weights and noise: bfloat16 keeps 8 bits of mantissa
    (relative rounding 2^-9 = 0.2 %), so the gradients differ (the networks run in bfloat16) by about that much or
    less (0.02 % here, on a CPU that emulates bfloat16), in the same direction."""
    x = torch.as_tensor(digits[0].images[:100])
    fp32 = _step_gradients(normalize_config(TINY), x)
    bf16 = _step_gradients(normalize_config({**TINY, "precision": "bf16"}), x)
    relative = ((bf16 - fp32).norm() / fp32.norm()).item()
    assert 1e-4 < relative < 1e-2
    assert torch.nn.functional.cosine_similarity(bf16, fp32, dim=0).item() > 0.9999


@pytest.mark.filterwarnings("ignore:precision=.bf16.:RuntimeWarning")  # emulated on CPUs without it: slow, correct
def test_bf16_training_is_bitwise_reproducible_and_close_to_fp32(digits, tmp_path):
    """Same seed, same bf16 weights; after 3 epochs the validation loss is FP32's within 0.2 % (3e-6 here)."""
    config = {**TINY, "precision": "bf16"}
    a = train(config, *digits, cache_dir=tmp_path / "a", progress=False)
    b = train(config, *digits, cache_dir=tmp_path / "b", progress=False)
    fp32 = train(TINY, *digits, cache_dir=tmp_path / "c", progress=False)
    assert same_weights(a.model, b.model) and not same_weights(a.model, fp32.model)
    assert a.history[-1]["val_loss"] == pytest.approx(fp32.history[-1]["val_loss"], rel=2e-3)


@pytest.mark.filterwarnings("ignore:precision=.bf16.:RuntimeWarning")
@pytest.mark.parametrize("objective", [{"name": "beta_tcvae", "beta": 6.0}, {"name": "factor_vae"},
                                       {"name": "mi_regularised"}])
def test_bf16_runs_the_networks_in_bfloat16_and_the_loss_in_float32(digits, monkeypatch, objective):
    """Under bf16 the objective gets float32 network outputs and computes every term in FP32 (also through the
    networks it calls itself: mi_regularised's decoder and encoder, FactorVAE's discriminator), while the networks
    still run in bfloat16 (mu differs from FP32's by bfloat16 rounding). beta-TCVAE's total correlation is the FP32
    formula of the batch's float32 mu, logvar and z (bfloat16 arithmetic gave -0.09 nats for +0.0015)."""
    cfg = normalize_config({**TINY, "objective": objective, "precision": "bf16"})
    state, x = tr._fresh(cfg, torch.device("cpu")), torch.as_tensor(digits[0].images[:20])
    batches = []

    def recording(config, batch, t):
        batches.append(batch)
        return batch_terms(config, batch, t)

    monkeypatch.setattr(tr, "batch_terms", recording)
    terms = tr._batch_terms(state.model, x, cfg["objective"], 0.0, state.noise, len(x), state.auxiliary, "bf16")
    [batch] = batches
    assert {t.dtype for t in (batch.mu, batch.logvar, batch.z, batch.log_lik)} == {torch.float32}
    assert {v.dtype for v in terms.values() if torch.is_tensor(v)} == {torch.float32}
    with torch.no_grad():
        fp32_mu = state.model.encode(x)[0]
    assert not torch.equal(batch.mu, fp32_mu)
    torch.testing.assert_close(batch.mu, fp32_mu, rtol=0.05, atol=0.05)
    if objective["name"] == "beta_tcvae":
        fp32 = tcvae_terms(batch.log_lik, batch.mu, batch.logvar, batch.z, len(x), terms["beta"])
        assert torch.equal(terms["total_correlation"], fp32["total_correlation"])
