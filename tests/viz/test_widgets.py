"""The live widgets, driven headless: what they display is the decode of the latent they claim to show."""

from __future__ import annotations

import io
import threading
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from vaeinfo.info.influence import (
    keep_top_k,
    rank_factors,
    topk_reconstructions,
    traversal_latents,
)
from vaeinfo.models.architectures import build_model
from vaeinfo.training.encode import encode
from vaeinfo.viz.widgets import (
    one_thread,
    png_bytes,
    tile,
    topk_frames,
    topk_generation,
    traversal,
    traversal_frames,
)

ARCHITECTURES = ("mnist_conv", "conv64")  # MNIST 1x28x28 and CelebA 3x64x64


@pytest.fixture(scope="module", params=ARCHITECTURES)
def model(request):
    return build_model({"architecture": request.param}, seed=0)


@pytest.fixture(scope="module")
def images(model) -> torch.Tensor:
    return torch.rand(6, *model.input_shape, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def mi(model) -> np.ndarray:
    """A shuffled MI profile: factors in random order, 5 of them >= 0.5 nats."""
    d = model.latent_dim
    values = np.concatenate([[2.0, 1.5, 1.2, 0.8, 0.5], np.linspace(0.4, 0.0, d - 5)])
    return np.random.default_rng(2).permutation(values)


def decode(model, z: torch.Tensor) -> np.ndarray:
    """The reference: decode on one torch thread, as the widgets do, so that the floats agree."""
    with one_thread(), torch.no_grad():
        return model.mean(model.decode(z)).numpy()


def png_pixels(png: bytes, scale: int) -> np.ndarray:
    """The displayed PNG as (C, H, W) floats in [0, 1], one value per model pixel (each shown scale x scale)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64) / 255
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    blocks = pixels.reshape(pixels.shape[0] // scale, scale, pixels.shape[1] // scale, scale, -1)
    assert np.all(blocks == blocks[:, :1, :, :1]), "every model pixel is shown as a uniform block"
    return blocks[:, 0, :, 0].transpose(2, 0, 1)


def assert_png_shows(png: bytes, scale: int, expected: np.ndarray) -> None:
    """The PNG equals the clipped image up to uint8 quantisation."""
    shown = png_pixels(png, scale)
    assert shown.shape == expected.shape
    np.testing.assert_allclose(shown, np.clip(expected, 0, 1), rtol=0, atol=0.5 / 255 + 1e-9)


def expected_traversal_latent(view, i: int) -> torch.Tensor:
    """Encoder mean of base image i (encoded with the others, as the widget does) with the sliders' values."""
    z = torch.as_tensor(encode(view.model, view.base_images, dtype=np.float32)[0][i : i + 1])
    z[0, torch.as_tensor(view.factors)] = torch.tensor([s.value for s in view.sliders])
    return z


# ----------------------------------------------------------------------------- traversal


def test_sliders_are_the_influential_factors_by_mi(model, images, mi):
    view = traversal(model, images, mi, debounce=0)
    np.testing.assert_array_equal(view.factors, np.argsort(-mi)[:5])
    assert [s.description for s in view.sliders] == [f"z{h}  {mi[h]:.2f} nats" for h in view.factors]
    assert view.base.max == len(images) - 1


def test_slider_values_show_the_decode_of_that_latent(model, images, mi):
    view = traversal(model, images, mi, debounce=0)
    before = view.array.copy()
    for slider, value in zip(view.sliders, (2.5, -2.0, 1.0)):
        slider.value = value
    z = expected_traversal_latent(view, 0)
    assert view.latent[0, view.factors[:3]].tolist() == [2.5, -2.0, 1.0]
    torch.testing.assert_close(view.latent, z, rtol=0, atol=0)
    expected = decode(model, z)[0]
    assert view.array.shape == model.input_shape
    np.testing.assert_array_equal(view.array, expected)
    assert not np.array_equal(view.array, before), "moving three factors must change the image"
    assert_png_shows(view.image.value, view.scale, expected)


def test_changing_the_base_image_loads_its_code(model, images, mi):
    view = traversal(model, images, mi, debounce=0)
    view.sliders[0].value = -3.0
    view.base.value = 4
    mu = encode(model, images, dtype=np.float32)[0][4]
    lo, hi = view.sliders[0].min, view.sliders[0].max
    assert [s.value for s in view.sliders] == pytest.approx(np.clip(mu[view.factors], lo, hi).tolist())
    np.testing.assert_array_equal(view.array, decode(model, expected_traversal_latent(view, 4))[0])
    assert_png_shows(view.original.value, view.scale, images[4].numpy())
    assert_png_shows(view.image.value, view.scale, view.array)


def test_reset_button_restores_the_code_of_the_image(model, images, mi):
    view = traversal(model, images, mi, debounce=0)
    view.base.value = 2
    start = view.array.copy()
    view.sliders[1].value = 2.9
    assert not np.array_equal(view.array, start)
    view.reset.click()
    np.testing.assert_array_equal(view.array, start)


def test_n_factors_and_the_fallback_to_the_top_factor(model, images, mi):
    assert traversal(model, images, mi, n_factors=2, debounce=0).factors.tolist() == np.argsort(-mi)[:2].tolist()
    collapsed = np.full(model.latent_dim, 0.01)
    collapsed[7] = 0.2
    assert traversal(model, images, collapsed, debounce=0).factors.tolist() == [7]


def test_traversal_frames_match_the_static_traversal(model, images, mi):
    view = traversal(model, images, mi, debounce=0)
    values = np.array([-3.0, -1.2, 0.6, 2.4])
    frames = traversal_frames(view, values)
    z = traversal_latents(expected_traversal_latent(view, 0)[0], view.factors, values)
    expected = decode(model, z.reshape(-1, z.shape[-1])).reshape(frames.shape)
    np.testing.assert_allclose(frames, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(view.array, decode(model, expected_traversal_latent(view, 0))[0])


# ----------------------------------------------------------------------------- top-k


def test_k_slider_shows_the_decode_of_the_top_k_factors(model, images, mi):
    view = topk_generation(model, images, mi, debounce=0)
    mu = torch.as_tensor(encode(model, images, dtype=np.float32)[0])
    assert view.k.value == model.latent_dim
    np.testing.assert_array_equal(view.array, decode(model, mu))
    for k in (3, 1, 0):
        view.k.value = k
        z = keep_top_k(mu, rank_factors(mi), k)
        torch.testing.assert_close(view.latent, z, rtol=0, atol=0)
        np.testing.assert_array_equal(view.array, decode(model, z))
        assert_png_shows(view.image.value, view.scale, tile(np.stack([images.numpy(), view.array])))
    assert np.all(view.array == view.array[:1]), "k = 0 decodes the prior mean for every image"


def test_keeping_one_factor_keeps_only_the_top_one(model, images, mi):
    view = topk_generation(model, images, mi, k=1, debounce=0)
    kept = view.latent != 0
    assert kept[:, int(np.argmax(mi))].all() and kept.sum() == len(images)


def test_topk_frames_match_the_static_reconstructions(model, images, mi):
    view = topk_generation(model, images, mi, k=4, debounce=0)
    ks = (model.latent_dim, 5, 1, 0)
    frames = topk_frames(view, ks)
    mu = encode(model, images, dtype=np.float32)[0]
    np.testing.assert_allclose(frames, topk_reconstructions(model, mu, rank_factors(mi), ks).numpy(),
                               rtol=0, atol=1e-5)
    assert view.k.value == 4


# ----------------------------------------------------------------------------- debounce


def test_debounce_coalesces_changes_into_one_decode(images, mi, model):
    view = traversal(model, images, mi, debounce=600)
    renders, before = view.renders, view.array.copy()
    for value in (-2.0, -1.0, 0.5, 1.5):
        view.sliders[0].value = value
    assert view.renders == renders and np.array_equal(view.array, before), "nothing decoded before the pause"
    view.flush()
    assert view.renders == renders + 1
    np.testing.assert_array_equal(view.array, decode(model, expected_traversal_latent(view, 0))[0])
    view.flush()
    assert view.renders == renders + 1, "flush without a pending change decodes nothing"


def test_debounced_update_arrives_by_itself(images, mi, model):
    view = topk_generation(model, images, mi, debounce=0.01)
    renders = view.renders
    view.k.value = 2
    deadline = time.monotonic() + 30
    while view.renders == renders and time.monotonic() < deadline:
        time.sleep(0.01)
    assert view.renders == renders + 1, "the debounce timer never decoded"
    z = keep_top_k(torch.as_tensor(encode(model, images, dtype=np.float32)[0]), rank_factors(mi), 2)
    np.testing.assert_array_equal(view.array, decode(model, z))


def test_rendering_leaves_the_torch_thread_count_alone(images, mi, model, three_threads):
    view = traversal(model, images, mi, debounce=0)
    view.sliders[0].value = 1.0
    assert torch.get_num_threads() == three_threads


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad, message", [
    (lambda x, mi: (x[:, :, :-1], mi), "must have shape"),
    (lambda x, mi: (x[0], mi), "must have shape"),
    (lambda x, mi: (x[:0], mi), "n >= 1"),
    (lambda x, mi: (torch.where(x > 0.5, float("nan"), x), mi), "NaN"),
    (lambda x, mi: (x, mi[:-1]), "one value per latent factor"),
    (lambda x, mi: (x, np.where(np.arange(len(mi)) == 3, np.nan, mi)), r"factors \[3\] are not"),
])
def test_bad_images_or_mi_are_refused(model, images, mi, bad, message):
    x, m = bad(images, mi)
    for build in (traversal, topk_generation):
        with pytest.raises(ValueError, match=message):
            build(model, x, m)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_factors": 0}, "n_factors"), ({"n_factors": 1.5}, "n_factors"), ({"debounce": -1}, "debounce"),
    ({"debounce": float("nan")}, "debounce"), ({"value_range": (3, -3)}, "value_range"), ({"scale": 0}, "scale"),
    ({"step": 0}, r"step must be a number in \(0, 6\]"), ({"step": -0.1}, "step"), ({"step": float("nan")}, "step"),
    ({"step": 7.0}, "step"), ({"step": True}, "step"),  # 0, -0.1 and NaN became the sliders' step
    ({"debounce": True}, "debounce"),  # was taken as 1 s
])
def test_bad_traversal_options_are_refused(model, images, mi, kwargs, message):
    with pytest.raises(ValueError, match=message):
        traversal(model, images, mi, **kwargs)


@pytest.mark.parametrize("k", [-1, 10_000, 2.5, True])  # True was taken as k = 1
def test_bad_k_is_refused(model, images, mi, k):
    with pytest.raises(ValueError, match=rf"k must be an integer in \[0, {model.latent_dim}\] .*got {k}"):
        topk_generation(model, images, mi, k=k)


def test_a_model_without_images_is_refused():
    model = build_model({"architecture": "mlp", "input_shape": [20], "latent_dim": 4}, seed=0)
    with pytest.raises(ValueError, match="need a model of images"):
        traversal(model, torch.zeros(2, 20), np.ones(4))


def test_png_bytes_checks_its_input():
    with pytest.raises(ValueError, match="one .C, H, W. image"):
        png_bytes(np.zeros((2, 4, 4)))
    assert png_pixels(png_bytes(np.array([[[-1.0, 0.5], [2.0, 1.0]]]), 3), 3).tolist() == [[[0, 128 / 255], [1, 1]]]


# ----------------------------------------------------------------------------- static grids and timing


def test_update_ms_renders_the_view_repeats_times_and_returns_a_positive_median(model, images, mi):
    from vaeinfo.viz.widgets import update_ms

    view = topk_generation(model, images, mi, k=3, debounce=0)
    before, array = view.renders, view.array.copy()
    ms = update_ms(view, repeats=5)
    assert view.renders == before + 5
    assert isinstance(ms, float) and 0 < ms < 60_000
    np.testing.assert_array_equal(view.array, array)  # rendering again shows the same images
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=rf"repeats must be an integer >= 1 \(timed updates\), got {bad}"):
            update_ms(view, repeats=bad)


def test_save_grids_writes_the_pngs_and_returns_the_numbers_behind_them(model, images, mi, tmp_path):
    from vaeinfo.viz.widgets import save_grids

    # mi as a list: the views take one, and save_grids labels the rows with the traversal's own (checked) copy
    trav, topk = traversal(model, images, list(mi), debounce=0), topk_generation(model, images[:3], mi, debounce=0)
    values, ks = np.array([-1.0, 0.0, 2.0]), [10_000, 5_000, 2, 0]  # both above d: one row "k = d", not two
    sliders, open_before = [s.value for s in trav.sliders], plt.get_fignums()
    numbers = save_grids((trav, topk), tmp_path / "out", "07_test", values=values, ks=ks, repeats=2)
    assert plt.get_fignums() == open_before  # both figures closed once saved
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "07_test_topk.pdf", "07_test_topk.png", "07_test_traversal.pdf", "07_test_traversal.png"]
    for stem in ("07_test_topk", "07_test_traversal"):
        assert (tmp_path / "out" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert numbers["factors"].tolist() == trav.factors.tolist()
    np.testing.assert_array_equal(numbers["factor_mi_nats"], mi[trav.factors])
    np.testing.assert_array_equal(numbers["values"], values)
    assert numbers["k"] == [model.latent_dim, 2, 0]  # capped at d, the repeat dropped
    assert set(numbers["render_ms"]) == {"traversal", "topk"} and min(numbers["render_ms"].values()) > 0
    assert [s.value for s in trav.sliders] == sliders and topk.k.value == model.latent_dim  # sliders restored


def test_save_grids_can_show_its_figures_inline_before_closing_them(model, images, mi, tmp_path, monkeypatch):
    from vaeinfo.viz import widgets as w

    shown = []
    monkeypatch.setattr(w, "display", lambda fig: shown.append((fig, plt.fignum_exists(fig.number))))
    views = traversal(model, images, mi, debounce=0), topk_generation(model, images[:3], mi, debounce=0)
    open_before = plt.get_fignums()
    w.save_grids(views, tmp_path, "07_test", values=np.array([0.0]), ks=[1], repeats=1)
    assert shown == [] and plt.get_fignums() == open_before  # show=False (the default): nothing displayed
    w.save_grids(views, tmp_path, "07_test", values=np.array([0.0]), ks=[1], repeats=1, show=True)
    assert len(shown) == 2 and all(still_open for _, still_open in shown)  # traversal, top-k: shown while open
    assert plt.get_fignums() == open_before  # and closed after


def test_uint8_images_are_read_as_pixels_over_255_like_encode(model, images, mi):
    pixels = (images * 255).round().to(torch.uint8)
    view = traversal(model, pixels, mi, debounce=0)
    np.testing.assert_allclose(view.base_images, pixels.numpy() / 255, rtol=0, atol=1e-7)  # not 0..255
    np.testing.assert_array_equal(view.mu.numpy(), encode(model, pixels, dtype=np.float32)[0])


def test_the_view_decodes_in_eval_mode_and_restores_the_model_mode():
    model = build_model({"architecture": "mnist_conv", "latent_dim": 8}, seed=0)
    model.decoder.insert(0, torch.nn.Dropout(0.5))  # a model of the contract with dropout
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    view = traversal(model, images, np.linspace(2.0, 0.0, 8), debounce=0)
    model.train()
    view.render()
    first = view.array.copy()
    view.render()
    np.testing.assert_array_equal(view.array, first)  # dropout off: the same picture for the same sliders
    assert model.training


def test_grids_refuse_values_the_sliders_would_clip_and_ks_that_are_not_counts(model, images, mi, tmp_path):
    from vaeinfo.viz.widgets import save_grids

    trav, topk = traversal(model, images, mi, debounce=0), topk_generation(model, images[:2], mi, debounce=0)
    with pytest.raises(ValueError, match=r"traversal values must lie in the sliders' range \[-3, 3\], got \[-6.0"):
        traversal_frames(trav, [-6.0, 0.0])
    for bad in (-1, 2.7, True):
        with pytest.raises(ValueError, match=rf"ks must be an integer >= 0 \(factors kept\), got {bad}"):
            save_grids((trav, topk), tmp_path, "t", values=np.array([0.0]), ks=[bad], repeats=1)
    with pytest.raises(ValueError, match=rf"ks must be an integer in \[0, {model.latent_dim}\]"):
        topk_frames(topk, [model.latent_dim + 1])
    assert not any(tmp_path.iterdir())


def test_overlapping_renders_restore_the_thread_count(monkeypatch):
    """Each view renders on its own debounce timer's thread; two overlapping renders restored each other's saved
    count, leaving torch on one thread. torch documents the count as process-wide (how OpenMP builds share it
    between threads varies), so a process-wide counter stands for it here."""
    from vaeinfo.viz.widgets import one_thread

    count = {"threads": 2}
    monkeypatch.setattr(torch, "get_num_threads", lambda: count["threads"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: count.update(threads=n))
    entered, release, first_done = threading.Event(), threading.Event(), threading.Event()

    def first():
        with one_thread():
            entered.set()
            release.wait(5)
        first_done.set()

    def second():  # leaves after the first one: restored the 1 it had saved while the first was inside
        with one_thread():
            first_done.wait(1)

    a = threading.Thread(target=first)
    a.start()
    entered.wait(5)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.2)  # b enters now if nothing keeps it out
    release.set()
    a.join(5)
    b.join(5)
    assert count["threads"] == 2


def test_numpy_scalars_are_numbers_for_the_options(model, images, mi):
    """np.float32(0.05) was refused as a step ("not a number") while np.float64 passed."""
    view = traversal(model, images, mi, step=np.float32(0.05), debounce=np.float32(0))
    assert view.sliders[0].step == pytest.approx(0.05)
