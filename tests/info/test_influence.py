"""vaeinfo.info.influence: ranking, top-k masking and traversal codes, with exact expected values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeinfo.info.influence import (
    influential_factors,
    keep_top_k,
    percent_to_k,
    rank_factors,
    ranking_agreement,
    traversal_latents,
    traversal_values,
)


def test_rank_is_descending_and_stable_on_ties():
    assert rank_factors(np.array([0.1, 2.0, 0.1, 3.0])).tolist() == [3, 1, 0, 2]


def test_rank_rejects_bad_scores():
    with pytest.raises(ValueError, match="shape"):
        rank_factors(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"factors \[1\]"):
        rank_factors(np.array([0.0, np.nan]))


def test_influential_uses_the_threshold_inclusively():
    mi = np.array([0.49, 0.5, 2.0, 0.0, 1.0])
    assert influential_factors(mi).tolist() == [2, 4, 1]
    assert influential_factors(mi, threshold=3.0).tolist() == []


def test_percent_to_k_for_the_papers_128_factors():
    ks = [percent_to_k(p, 128) for p in (100, 50, 10, 7, 5, 4, 3, 2, 1, 0)]
    assert ks == [128, 64, 13, 9, 6, 5, 4, 3, 1, 0]
    with pytest.raises(ValueError):
        percent_to_k(101, 128)


def test_percent_to_k_rounds_exact_halves_up():
    """p % of d = k + 1/2 exactly gives k + 1 (floating point makes 0.58 * 25 = 14.499...); checked against integer
    arithmetic, (2 p d + 100) // 200, for every integer p in [0, 100] and d <= 300."""
    assert percent_to_k(58, 25) == 15 and percent_to_k(29, 50) == 15 and percent_to_k(50, 25) == 13
    assert all(percent_to_k(p, d) == (2 * p * d + 100) // 200 for p in range(101) for d in range(301))
    assert percent_to_k(12.5, 4) == 1  # 0.5 -> 1
    # a decimal percentage is the number written, not its binary neighbour (0.3 is 0.29999... in binary)
    assert [percent_to_k(p, 500) for p in (0.3, 0.7, 1.1, np.float64(0.3), np.float32(0.7))] == [2, 4, 6, 2, 4]
    for bad in (True, np.bool_(False), float("nan"), -0.5):
        with pytest.raises(ValueError, match=r"percent must be a number in \[0, 100\]"):
            percent_to_k(bad, 128)
    for bad in (-5, 25.0, True):  # 25.0 and True were taken as 25 and 1
        with pytest.raises(ValueError, match=rf"d must be an integer >= 0 \(the number of factors\), got {bad}"):
            percent_to_k(50, bad)


def test_percent_to_k_the_authors_way():
    """The authors' notebook zeroes int((1 - r) * 128) factors: 7, 6 and 2 kept at 5, 4 and 1 % (6, 5, 1 rounded)."""
    percents = (100, 50, 10, 7, 5, 4, 3, 2, 1, 0)
    ks = [percent_to_k(p, 128, "authors") for p in percents]
    assert ks == [128, 64, 13, 9, 7, 6, 4, 3, 2, 0]
    assert ks == [128 - int((1 - r) * 128) for r in (1, 0.5, 0.1, 0.07, 0.05, 0.04, 0.03, 0.02, 0.01, 0)]  # their loop
    assert [percent_to_k(p, 32, "authors") for p in percents] == [32, 16, 4, 3, 2, 2, 1, 1, 1, 0]
    with pytest.raises(ValueError, match=r"unknown k rounding 'floor'; choose one of \('round', 'authors'\)"):
        percent_to_k(10, 128, "floor")


def test_ranking_agreement_counts_the_shared_top_k():
    a, b = np.array([3, 1, 0, 2, 4]), np.array([1, 3, 4, 0, 2])
    assert ranking_agreement(a, b, [0, 1, 2, 3, 4, 5]) == [0, 0, 2, 2, 3, 5]
    assert ranking_agreement(a, a, [1, 3]) == [1, 3]
    assert ranking_agreement(a, a[::-1], [2, 3]) == [0, 1]  # reversed: the top 3 share only the middle factor 0
    for bad in (6, -1, 2.0):  # a float k was a TypeError in slicing
        with pytest.raises(ValueError, match=rf"every k must be an integer in \[0, 5\] \(top factors compared\), "
                                             rf"got {bad}"):
            ranking_agreement(a, b, [bad])
    with pytest.raises(ValueError, match=r"same factors"):
        ranking_agreement(a, b[:4], [1])
    assert ranking_agreement(a, b, (k for k in [2, 5])) == [2, 5]  # a generator of ks is read once


def test_keep_top_k_refuses_a_k_that_is_not_a_count():
    z = np.zeros((2, 4))
    for bad in (True, 2.0, -1, 5):  # True kept one factor, 2.0 was a TypeError in slicing
        with pytest.raises(ValueError, match=rf"k must be an integer in \[0, 4\] \(factors kept\), got {bad}"):
            keep_top_k(z, np.arange(4), bad)


@pytest.mark.parametrize("as_torch", [False, True])
def test_keep_top_k_zeroes_exactly_the_others(as_torch):
    z = np.arange(1, 13, dtype=np.float32).reshape(2, 6)
    zz = torch.from_numpy(z) if as_torch else z
    out = keep_top_k(zz, np.array([4, 0, 5, 1, 2, 3]), 2)
    out = out.numpy() if as_torch else out
    assert out.tolist() == [[1, 0, 0, 0, 5, 0], [7, 0, 0, 0, 11, 0]]
    assert out.dtype == np.float32
    assert not np.any(np.asarray(keep_top_k(zz, np.arange(6), 0)))
    assert np.array_equal(np.asarray(keep_top_k(zz, np.arange(6), 6)), z)
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 6\]"):
        keep_top_k(zz, np.arange(6), 7)


@pytest.mark.parametrize("as_torch", [False, True])
def test_keep_top_k_zeroes_a_dropped_inf_and_checks_the_order(as_torch):
    """A dropped factor becomes 0 whatever its value (inf * 0 would be NaN); an order that cannot supply k distinct
    factors in [0, d) is refused instead of silently keeping fewer."""
    z = np.array([[1.0, np.inf, np.nan]], dtype=np.float32)
    zz = torch.from_numpy(z) if as_torch else z
    out = np.asarray(keep_top_k(zz, np.array([0, 1, 2]), 1))
    assert out.tolist() == [[1.0, 0.0, 0.0]]
    for order, message in (([2], r"order must rank at least 2 of the 3 factors to keep its top 2, got 1"),
                           ([0, 0, 1], r"top 2 of order must be distinct factor indices in \[0, 3\), got \[0, 0\]"),
                           ([0, 3, 1], r"top 2 of order must be distinct factor indices in \[0, 3\), got \[0, 3\]"),
                           ([-1, 0, 1], r"must be distinct factor indices in \[0, 3\), got \[-1, 0\]"),
                           ([0.0, 1.5, 2], r"top 2 of order must be integer factor indices, got \[0.0, 1.5\]"),
                           ([True, False, True], r"got a boolean mask; pass np.flatnonzero\(mask\) instead")):
        with pytest.raises(ValueError, match=message):
            keep_top_k(zz, np.array(order), 2)


def test_traversal_values_are_the_papers():
    np.testing.assert_allclose(traversal_values(), [-3.0, -2.4, -1.8, -1.2, -0.6, 0.0, 0.6, 1.2, 1.8, 2.4], atol=1e-12)


def test_traversal_values_never_pass_stop():
    """A step that does not divide the range stops below ``stop``; one that does ends on it despite rounding."""
    np.testing.assert_allclose(traversal_values(0.0, 1.0, 0.35), [0.0, 0.35, 0.7], atol=1e-12)
    assert len(traversal_values(-2.5, 2.5, 0.5)) == 11 and len(traversal_values(0.0, 0.3, 0.1)) == 4
    assert traversal_values(1.0, 1.0, 0.5).tolist() == [1.0]
    for start, stop, step in ((0.0, 1.0, 0.0), (0.0, 1.0, -0.5), (1.0, 0.0, 0.5), (0.0, 1.0, float("nan"))):
        with pytest.raises(ValueError, match=r"a traversal needs step > 0 and stop >= start"):
            traversal_values(start, stop, step)


def test_traversal_latents_change_one_factor_per_row():
    base = torch.tensor([0.5, -1.0, 2.0])
    z = traversal_latents(base, np.array([2, 0]), np.array([-1.0, 1.0]))
    assert z.shape == (2, 2, 3)
    assert z.tolist() == [[[0.5, -1.0, -1.0], [0.5, -1.0, 1.0]], [[-1.0, -1.0, 2.0], [1.0, -1.0, 2.0]]]
    assert base.tolist() == [0.5, -1.0, 2.0]  # the base code is not modified
    for bad in (-1, 3, 1.7):  # -1 edited the last factor, 1.7 factor 1
        with pytest.raises(ValueError, match=rf"factors must be an integer in \[0, 2\] \(latent factor indices\), "
                                             rf"got {bad}"):
            traversal_latents(base, np.array([bad]), np.array([9.0]))


def test_reconstruction_mse_refuses_shapes_that_would_broadcast():
    from vaeinfo.info.influence import reconstruction_mse

    images, recs = torch.zeros(3, 1, 4, 4), torch.ones(2, 3, 1, 4, 4)
    np.testing.assert_array_equal(reconstruction_mse(images, recs), [1.0, 1.0])
    for wrong in (images[:, 0], images[:1]):  # (n, H, W) and one image compared every image with every reconstruction
        with pytest.raises(ValueError, match=r"reconstructions must be \(m, \*images.shape\)"):
            reconstruction_mse(wrong, recs)


def test_topk_reconstructions_keep_all_equals_decoding_and_keep_none_is_one_image():
    from vaeinfo.info.influence import reconstruction_mse, topk_reconstructions
    from vaeinfo.models.architectures import build_model

    model = build_model({"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 4}, seed=0).eval()
    mu = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    recs = topk_reconstructions(model, mu, np.array([2, 0, 1, 3]), ks=(4, 1, 0), batch_size=3)
    with torch.inference_mode():
        full = model.mean(model.decode(torch.from_numpy(mu)))
        prior = model.mean(model.decode(torch.zeros(1, 4)))
    assert recs.shape == (3, 7, 1, 8, 8)
    torch.testing.assert_close(recs[0], full, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(recs[2], prior.expand(7, -1, -1, -1), rtol=1e-6, atol=1e-6)
    # Keeping only factor 2 equals decoding (0, 0, mu_2, 0).
    only = torch.zeros(7, 4)
    only[:, 2] = torch.from_numpy(mu[:, 2])
    with torch.inference_mode():
        torch.testing.assert_close(recs[1], model.mean(model.decode(only)), rtol=1e-6, atol=1e-6)
    mse = reconstruction_mse(full, recs)
    assert mse.shape == (3,) and mse[0] == pytest.approx(0.0, abs=1e-12)  # batching changes float rounding only
    assert mse[2] == pytest.approx(float((prior - full).pow(2).mean()), rel=1e-6)


# ----------------------------------------------------------------------------- traversal images


class _LinearNoMean(torch.nn.Module):
    """A contract model without ``mean``: E[x|z] is ``decode(z)`` itself; one example is (2, 3)."""

    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.config = {"input_shape": [2, 3]}
        self.dec = torch.nn.Linear(3, 6)

    def encode(self, x):
        return x.flatten(1)[:, :3], x.flatten(1)[:, 3:6]

    def decode(self, z):
        return self.dec(z).reshape(len(z), 2, 3)


def _models():
    from vaeinfo.models.architectures import build_model

    torch.manual_seed(0)
    return [_LinearNoMean().eval(),
            build_model({"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 4}, seed=0).eval()]


@pytest.mark.parametrize("which", [0, 1], ids=["no-mean", "mlp"])
def test_traversal_images_decode_each_edited_code(which):
    from vaeinfo.info.influence import traversal_images
    from vaeinfo.models.contract import decode_mean, input_shape

    model = _models()[which]
    d = model.latent_dim
    base = np.random.default_rng(1).standard_normal(d).astype(np.float32)
    factors, values = np.array([2, 0]), np.array([-3.0, 0.0, 2.4])
    images = traversal_images(model, base, factors, values)
    assert images.shape == (2, 3, *input_shape(model)) and images.dtype == torch.float32
    assert images.device.type == "cpu" and not images.is_inference() and not images.requires_grad
    for r, h in enumerate(factors):
        z = torch.from_numpy(np.tile(base, (len(values), 1)))
        z[:, h] = torch.tensor(values, dtype=torch.float32)  # row r: factor h takes each value in turn
        with torch.no_grad():
            expected = decode_mean(model, z)
        torch.testing.assert_close(images[r], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(traversal_images(model, torch.from_numpy(base), factors, values), images,
                               rtol=0, atol=0)  # a tensor base code gives the same images


def test_prepend_column_puts_the_image_left_of_every_row():
    from vaeinfo.info.influence import prepend_column

    grid = torch.arange(2 * 3 * 1 * 2, dtype=torch.float32).reshape(2, 3, 1, 2)
    image = torch.tensor([[-1.0, -2.0]])
    out = prepend_column(grid, image)
    assert out.shape == (2, 4, 1, 2)
    assert out[:, 0].tolist() == [[[-1.0, -2.0]], [[-1.0, -2.0]]]
    assert torch.equal(out[:, 1:], grid)


def test_topk_reconstructions_and_traversals_decode_in_eval_mode_and_restore_the_mode():
    """They decoded under inference_mode only: a custom model with dropout, left in train mode, gave other images
    on every call (the widgets and encode switch to eval mode)."""
    from vaeinfo.info.influence import topk_reconstructions, traversal_images
    from vaeinfo.models.architectures import build_model

    model = build_model({"architecture": "mlp", "input_shape": [1, 8, 8], "latent_dim": 4}, seed=0)
    model.decoder.insert(0, torch.nn.Dropout(0.5))
    model.train()
    mu = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    order = np.array([2, 0, 1, 3])
    torch.testing.assert_close(topk_reconstructions(model, mu, order, ks=(4, 2)),
                               topk_reconstructions(model, mu, order, ks=(4, 2)), rtol=0, atol=0)
    values, factors = np.array([-1.0, 1.0]), np.array([0, 3])
    torch.testing.assert_close(traversal_images(model, mu[0], factors, values),
                               traversal_images(model, mu[0], factors, values), rtol=0, atol=0)
    assert model.training and model.decoder[0].training


def test_uint8_images_are_refused_beside_decoded_means():
    """An image equal to its reconstruction gave an MSE of 16,256 when the image was uint8 pixels 0-255."""
    from vaeinfo.info.influence import prepend_column, reconstruction_mse

    pixels = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"images must be floating-point images in \[0, 1\], got dtype torch.uint8"):
        reconstruction_mse(pixels, torch.ones(1, 2, 1, 4, 4))
    assert reconstruction_mse(pixels.float() / 255, torch.ones(1, 2, 1, 4, 4)).tolist() == [0.0]
    with pytest.raises(ValueError, match=r"image must be floating-point images"):
        prepend_column(torch.zeros(2, 3, 1, 4, 4), pixels[0])


def test_clip_ks_caps_at_the_latent_size_without_repeats():
    from vaeinfo.info.influence import clip_ks

    assert clip_ks([128, 24, 12, 8, 1, 0], 16) == [16, 12, 8, 1, 0]
    for bad in (2.7, -1, True):
        with pytest.raises(ValueError, match=rf"ks must be an integer >= 0 \(factors kept\), got {bad}"):
            clip_ks([24, bad], 16)
    assert clip_ks((128, 24, 12), 128) == [128, 24, 12]
