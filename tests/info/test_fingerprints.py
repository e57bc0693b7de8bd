"""Known-answer tests of the channel fingerprints, NMI/VI, hotspots and fusion (vaeinfo.info.fingerprints); every
tolerance is stated beside its assert."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from vaeinfo.info import fingerprints as fp
from vaeinfo.info.mi import factor_mi

LN2 = math.log(2)


def separated(n: int, spacing: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """n posteriors N(spacing * i, 1): every Bhattacharyya coefficient between two of them is exp(-spacing^2 / 8)."""
    return spacing * np.arange(n, dtype=float), np.zeros(n)


def product_grid(levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent channels on N = levels^2 points: U takes level i // levels, V level i % levels, each as a
    well-separated posterior (means 100 apart, sigma 1). Columns (N, 2) of mu and logvar."""
    i = np.arange(levels * levels)
    mu = 100.0 * np.stack([i // levels, i % levels], axis=1).astype(float)
    return mu, np.zeros_like(mu)


def random_channels(n: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """c channels of heterogeneous posteriors: clustered means and sigma in [0.05, 1]."""
    rng = np.random.default_rng(seed)
    mu = rng.choice([-2.0, 0.0, 1.5], size=(n, c)) + rng.normal(0, 0.5, (n, c))
    logvar = 2 * np.log(rng.uniform(0.05, 1.0, (n, c)))
    return mu, logvar


# ----------------------------------------------------------------------------- the fingerprint itself


def test_fingerprint_is_the_bhattacharyya_distance_of_the_two_gaussians():
    """exp(-D) equals the integral of sqrt(p q) (scipy quad, ~1e-10), and D the textbook closed form."""
    mu, sigma = np.array([0.3, -1.2, 2.0]), np.array([0.4, 1.5, 0.05])
    d = fp.fingerprint(mu, 2 * np.log(sigma))
    for i in range(3):
        for j in range(3):
            root = lambda x: math.sqrt(norm.pdf(x, mu[i], sigma[i]) * norm.pdf(x, mu[j], sigma[j]))  # noqa: E731
            coefficient = integrate.quad(root, -30, 30, points=[mu[i], mu[j]], epsabs=1e-13, limit=400)[0]
            assert math.exp(-d[i, j]) == pytest.approx(coefficient, abs=1e-9)  # quad error ~1e-10
            s2 = (sigma[i] ** 2 + sigma[j] ** 2) / 2
            textbook = (mu[i] - mu[j]) ** 2 / (8 * s2) + 0.5 * math.log(s2 / (sigma[i] * sigma[j]))
            assert d[i, j] == pytest.approx(textbook, rel=1e-12, abs=1e-15)
    assert np.all(np.diag(d) == 0.0) and np.array_equal(d, d.T)  # exactly


def test_label_fingerprint_and_its_information_is_the_label_entropy():
    y = np.array([0, 0, 1, 2, 2, 2, 1, 0, 3, 3])
    d = fp.label_fingerprint(y)
    assert np.all(np.diag(d) == 0) and np.isinf(d[0, 2]) and d[0, 1] == 0
    p = np.bincount(y) / len(y)
    assert fp.channel_info(d) == pytest.approx(-(p * np.log2(p)).sum(), abs=1e-12)  # exact up to rounding


@pytest.mark.parametrize("labels", [np.array([0.0, 1.0, np.nan, 1.0]),
                                    np.array(["a", "b", float("nan"), "a"], dtype=object)], ids=["float", "object"])
def test_nan_labels_are_rejected(labels):
    """A NaN label differs from itself: its point's coefficient with itself was 0 and the label's I(U; X) +inf."""
    mu, logvar = separated(4)
    with pytest.raises(ValueError, match=r"labels hold 1 NaN value\(s\)"):
        fp.label_fingerprint(labels)
    with pytest.raises(ValueError, match=r"labels hold 1 NaN value\(s\)"):
        fp.channel_similarity(mu[:, None], logvar[:, None], labels=labels)


# ----------------------------------------------------------------------------- information of one channel


def test_well_separated_points_carry_log2_n_bits():
    for n in (2, 7, 64):
        mu, logvar = separated(n)
        assert fp.channel_info(fp.fingerprint(mu, logvar)) == pytest.approx(math.log2(n), abs=1e-12)  # exp(-1250) = 0
        assert fp.channel_information(mu[:, None], logvar[:, None])[0] == pytest.approx(math.log2(n), abs=1e-12)


def test_coinciding_posteriors_carry_nothing():
    n = 50
    for sigma in (1.0, 0.01):
        d = fp.fingerprint(np.full(n, 0.7), np.full(n, 2 * math.log(sigma)))
        assert np.all(d == 0.0)
        assert fp.channel_info(d) == pytest.approx(0.0, abs=1e-15)  # log2 of exactly 1


def test_information_lies_between_zero_and_log2_n():
    mu, logvar = random_channels(120, 6, seed=1)
    info = fp.channel_information(mu, logvar)
    assert np.all(info > 0) and np.all(info < math.log2(120))  # strict: overlapping but distinct posteriors


def test_vectorised_information_matches_the_kolchinsky_tracey_bound_of_vaeinfo_mi():
    """Two independent implementations: fingerprints (bits) and factor_mi's kt_lower (nats, no subsample)."""
    mu, logvar = random_channels(150, 5, seed=2)
    kt = factor_mi(mu, logvar, method="kt_lower", max_n=150) / LN2
    np.testing.assert_allclose(fp.channel_information(mu, logvar), kt, rtol=0, atol=1e-12)  # rounding only


def test_kt_estimate_is_below_the_exact_information():
    """On random mixtures the KT bound <= exact I(X; Z_h) (quad, ~1e-9 nats) in bits, and strictly below when the
    components overlap; for well-separated ones both are log2 N."""
    for seed in range(4):
        mu, logvar = random_channels(80, 4, seed=10 + seed)
        comparison = fp.kt_versus_exact(mu, logvar, method="quad")
        assert np.all(comparison.gap_bits > 0.01)  # overlapping clusters: the bound is loose by > 0.01 bits
        assert np.all(comparison.kt_bits <= comparison.exact_bits + 1e-8)  # quad's error
        np.testing.assert_allclose(comparison.exact_bits, factor_mi(mu, logvar, method="quad") / LN2, rtol=1e-12)
    mu, logvar = separated(32)
    comparison = fp.kt_versus_exact(mu[:, None], logvar[:, None], method="quad")
    assert comparison.kt_bits[0] == pytest.approx(5.0, abs=1e-12)
    assert comparison.exact_bits[0] == pytest.approx(5.0, abs=1e-6)  # quad on 32 far-apart narrow components
    with pytest.raises(ValueError, match=r"kt_versus_exact needs a consistent estimate of I; method must be one of "
                                         r"\('grid', 'mc', 'quad'\), got 'kt_lower'"):
        fp.kt_versus_exact(mu[:, None], logvar[:, None], method="kt_lower")  # "exact" would be the KT value itself


# ----------------------------------------------------------------------------- pairs of channels: NMI and VI


def test_a_channel_with_itself_or_its_copy_has_nmi_one_and_vi_zero():
    mu, logvar = random_channels(100, 3, seed=3)
    mu = np.concatenate([mu, mu[:, :1]], axis=1)  # column 3 is a copy of column 0
    logvar = np.concatenate([logvar, logvar[:, :1]], axis=1)
    s = fp.channel_similarity(mu, logvar)
    np.testing.assert_allclose(np.diag(s.nmi), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.diag(s.vi) == 0.0)
    assert s.nmi[0, 3] == pytest.approx(1.0, abs=1e-12) and s.vi[0, 3] == pytest.approx(0.0, abs=1e-12)
    d = fp.fingerprint(mu[:, 0], logvar[:, 0])
    assert s.joint[0, 0] == pytest.approx(fp.joint_info([d, d]), abs=1e-12)  # I_UU uses 2 D_U


def test_independent_channels_have_nmi_zero():
    """Exactly independent (a product grid of separated levels): I(U; V) = 0, NMI = 0, VI = H(U) + H(V)."""
    mu, logvar = product_grid(6)
    s = fp.channel_similarity(mu, logvar)
    assert s.info == pytest.approx([math.log2(6)] * 2, abs=1e-12)
    assert s.joint[0, 1] == pytest.approx(math.log2(36), abs=1e-12)
    assert s.nmi[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert s.vi[0, 1] == pytest.approx(2 * math.log2(6), abs=1e-12)


def test_independently_drawn_channels_have_small_nmi():
    """Channels drawn independently of each other on N = 1,000 points: NMI is only the estimate's finite-N excess,
    measured at 0.008-0.013 for this seed (1.4-1.5 bits per channel)."""
    rng = np.random.default_rng(4)
    mu = rng.normal(0, 1, (1000, 4))
    logvar = np.full((1000, 4), 2 * math.log(0.3))
    s = fp.channel_similarity(mu, logvar)
    off = s.nmi[~np.eye(4, dtype=bool)]
    assert np.all(np.abs(off) < 0.03)  # finite-N excess; a channel with 20x noise on its signal scores 0.006 (next)


def test_nmi_grows_with_dependence():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 500)
    noise = rng.normal(0, 1, 500)
    mu = np.stack([x] + [(x + s * noise) / math.hypot(1, s) for s in (0.1, 0.5, 2.0, 20.0)], axis=1)  # unit variance
    s = fp.channel_similarity(mu, np.full_like(mu, 2 * math.log(0.5)))  # a few bits each, as the method needs
    assert np.all(np.diff(s.nmi[0, 1:]) < 0)  # more noise, less NMI
    assert s.nmi[0, 1] > 0.9 and s.nmi[0, 4] < 0.05  # measured 0.986 and 0.006
    assert np.all(np.diff(s.vi[0, 1:]) > 0)


def test_nmi_and_vi_are_invariant_to_permuting_points_and_flipping_a_channel():
    mu, logvar = random_channels(90, 4, seed=6)
    s = fp.channel_similarity(mu, logvar)
    order = np.random.default_rng(7).permutation(90)
    permuted = fp.channel_similarity(mu[order], logvar[order])
    flipped = fp.channel_similarity(mu * np.array([1, -1, 1, -1]), logvar)
    for other in (permuted, flipped):
        for name in ("info", "joint", "nmi", "vi"):
            np.testing.assert_allclose(getattr(other, name), getattr(s, name), rtol=0, atol=1e-12)  # rounding only


def test_vectorised_pairs_match_the_definitions_and_do_not_depend_on_the_blocks():
    """channel_similarity (one matrix product per point, in blocks) against joint_info on explicit fingerprints."""
    mu, logvar = random_channels(70, 4, seed=8)
    s = fp.channel_similarity(mu, logvar)
    one_row = fp.channel_similarity(mu, logvar, chunk_bytes=1)
    d = [fp.fingerprint(mu[:, h], logvar[:, h]) for h in range(4)]
    for u in range(4):
        assert s.info[u] == pytest.approx(fp.channel_info(d[u]), abs=1e-12)
        for v in range(4):
            joint = fp.joint_info([d[u], d[v]])
            assert s.joint[u, v] == pytest.approx(joint, abs=1e-12)
            h_u, h_v = 2 * s.info[u] - fp.joint_info([d[u], d[u]]), 2 * s.info[v] - fp.joint_info([d[v], d[v]])
            assert s.nmi[u, v] == pytest.approx((s.info[u] + s.info[v] - joint) / math.sqrt(h_u * h_v), abs=1e-10)
    for name in ("info", "joint", "nmi", "vi"):
        np.testing.assert_allclose(getattr(one_row, name), getattr(s, name), rtol=0, atol=1e-12)


def test_a_channel_that_encodes_the_label_has_nmi_one_with_it():
    y = np.repeat(np.arange(5), 20)
    mu = np.stack([100.0 * y, np.random.default_rng(9).normal(0, 1, 100)], axis=1)  # channel 0 = the label
    s = fp.channel_similarity(mu, np.zeros_like(mu), labels=y)
    assert s.info[2] == pytest.approx(math.log2(5), abs=1e-12)  # the label channel: H(Y)
    assert s.nmi[0, 2] == pytest.approx(1.0, abs=1e-12) and s.vi[0, 2] == pytest.approx(0.0, abs=1e-12)
    assert s.nmi[1, 2] < 0.05  # a channel unrelated to the label


@pytest.mark.parametrize("logvar", [0.0, -9.0, 3.7])
def test_a_channel_without_information_has_undefined_nmi(logvar):
    """Constant posteriors: every coefficient is exactly 1, so I = 0 and NMI is NaN, at any variance (at logvar -9
    the coefficient's old form rounded to 1 - 2e-16 and gave NMI 1 with another constant channel)."""
    mu = np.stack([np.zeros(30), np.arange(30.0), np.full(30, 2.0)], axis=1)
    s = fp.channel_similarity(mu, np.full_like(mu, logvar))
    assert s.info[0] == 0.0 and s.info[2] == 0.0
    assert np.isnan(s.nmi[0, 1]) and np.isnan(s.nmi[0, 0]) and np.isnan(s.nmi[0, 2])
    assert fp.kept_channels(s.info).tolist() == [1]
    for bad in (-0.5, float("nan")):  # a negative threshold kept every channel, collapsed ones included
        with pytest.raises(ValueError, match=r"threshold must be a finite number of bits >= 0 \(the authors: 0.01\)"):
            fp.kept_channels(s.info, bad)


def test_nmi_needs_each_channels_entropy_positive():
    """Two channels with H~ = 2 I_U - I_UU slightly negative (rounding): the product of the two is positive, but
    NMI is undefined for each, not -1."""
    info, joint = np.array([1e-16, 1e-16]), np.full((2, 2), 3e-16)
    nmi, vi = fp.nmi_and_vi(info, joint)
    assert np.isnan(nmi).all() and vi.shape == (2, 2)


def test_nmi_and_vi_of_a_coarser_copy_of_a_channel():
    """Channel V is channel U with its 4 classes merged in pairs (separated levels, equal class sizes): I_U = 2, I_V
    = 1, I_UV = 2 bits, so NMI = (2 + 1 - 2) / sqrt(2 * 1) = 1/sqrt 2 and VI = 2 I_UV - I_UU - I_VV = 1 bit."""
    u = np.repeat(np.arange(4), 25)
    mu = np.stack([100.0 * u, 100.0 * (u // 2)], axis=1)
    s = fp.channel_similarity(mu, np.zeros_like(mu))
    assert s.info == pytest.approx([2.0, 1.0], abs=1e-12) and s.joint[0, 1] == pytest.approx(2.0, abs=1e-12)
    assert s.nmi[0, 1] == pytest.approx(1 / math.sqrt(2), abs=1e-12) and s.vi[0, 1] == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- hotspots


def test_min_samples_scales_with_the_ensemble():
    assert [fp.optics_min_samples(m) for m in (1, 5, 6, 8, 25, 50)] == [2, 2, 2, 3, 10, 20]  # 50 -> the authors' 20
    for bad in (0, 25.0, True):
        with pytest.raises(ValueError, match=rf"n_members must be an integer >= 1 \(models in the ensemble\), "
                                             rf"got {bad}"):
            fp.optics_min_samples(bad)


def planted_ensemble(members: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each member has 3 channels that are noisy copies (random sign, own noise) of 3 independent features, then 2
    collapsed channels; channel order shuffled per member. Returns mu, logvar (n, 5 M), member, feature (-1:
    collapsed) of each column."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 1, (n, 3))
    mus, logvars, member, feature = [], [], [], []
    for m in range(members):
        order = rng.permutation(5)
        for k in order:
            if k < 3:
                mus.append(rng.choice([-1, 1]) * features[:, k] + rng.normal(0, 0.05, n))
                logvars.append(np.full(n, 2 * math.log(0.1)) + rng.normal(0, 0.1, n))
            else:
                mus.append(rng.normal(0, 1e-3, n))
                logvars.append(rng.normal(0, 1e-3, n))
            member.append(m)
            feature.append(k if k < 3 else -1)
    return np.stack(mus, 1), np.stack(logvars, 1), np.array(member), np.array(feature)


@pytest.mark.parametrize("kind", fp.DISTANCES)
def test_hotspots_recover_planted_channels(kind):
    members = 6
    mu, logvar, member, feature = planted_ensemble(members, 200, seed=11)
    info = fp.channel_information(mu, logvar)
    kept = fp.kept_channels(info)
    assert sorted(feature[kept]) == sorted(np.repeat([0, 1, 2], members))  # collapsed channels: < 0.01 bits
    s = fp.channel_similarity(mu[:, kept], logvar[:, kept])
    spots = fp.find_hotspots(fp.similarity_distance(s, kind), member[kept])
    assert spots.count == 3 and spots.min_samples == 2
    assert spots.coverage().tolist() == [members] * 3
    for h in range(3):  # each hotspot is one planted feature, complete
        assert len(set(feature[kept][spots.channels(h)])) == 1 and len(spots.channels(h)) == members
    assert sorted(spots.ordering.tolist()) == list(range(len(kept))) and np.isinf(spots.reachability[0])
    first = [spots.labels[spots.ordering].tolist().index(h) for h in range(3)]
    assert first == sorted(first)  # hotspots numbered in OPTICS order


def test_similarity_distance_is_a_valid_precomputed_metric_input():
    mu, logvar = random_channels(60, 5, seed=12)
    s = fp.channel_similarity(mu, logvar)
    for kind in fp.DISTANCES:
        d = fp.similarity_distance(s, kind)
        assert np.all(d >= 0) and np.all(np.diag(d) == 0) and np.array_equal(d, d.T)
    np.testing.assert_allclose(fp.similarity_distance(s, "nmi")[0, 1], -math.log(max(s.nmi[0, 1], 1e-4)), atol=1e-12)
    with pytest.raises(ValueError, match="unknown distance"):
        fp.similarity_distance(s, "cosine")


def test_find_hotspots_rejects_bad_input():
    with pytest.raises(ValueError, match="symmetric"):
        fp.find_hotspots(np.array([[0.0, 1.0], [2.0, 0.0]]), [0, 1])
    with pytest.raises(ValueError, match="one member id per channel"):
        fp.find_hotspots(np.zeros((3, 3)), [0, 1])
    with pytest.raises(ValueError, match="K >= 2"):
        fp.find_hotspots(np.zeros((1, 1)), [0])
    for bad in (0, 1, -5, 0.5, 2.0):  # was silently replaced by 2
        with pytest.raises(ValueError, match=rf"min_samples must be an integer >= 2 .*got {bad}"):
            fp.find_hotspots(np.zeros((3, 3)), [0, 1, 2], min_samples=bad)


# ----------------------------------------------------------------------------- fusion


def test_fusing_copies_of_a_channel_recovers_it():
    """Three noisy copies of one channel (four clusters) fused into one dimension: the fused channel agrees with each
    copy (NMI > 0.9, measured 0.994-0.996 after the 600 steps; 0.72 after 300) and carries about as much information
    (measured 1.93 bits; the copies 2.12-2.15, log2 4 = 2 for four separated clusters)."""
    rng = np.random.default_rng(13)
    cluster = np.repeat(np.arange(4), 12)
    stack = np.stack([fp.fingerprint(3.0 * cluster + rng.normal(0, 0.2, 48), np.full(48, 2 * math.log(0.3)))
                      for _ in range(3)])
    fused = fp.fuse(stack, similarity="vi", steps=600, seed=0)
    assert fused.mu.shape == (48, 1) and fused.history.shape == (601,)
    assert np.all(fused.nmi > 0.9)
    assert abs(fused.info_bits - 2.0) < 0.25
    assert fused.history[-1] > fused.history[0]  # the similarity went up
    again = fp.fuse(stack, similarity="vi", steps=600, seed=0)
    assert np.array_equal(again.mu, fused.mu)  # seeded
    adam = fp.fuse(stack, similarity="vi", optimizer="adam", lr=0.05, steps=100, seed=0)
    assert np.all(adam.nmi > 0.9)  # measured 0.992-0.994: Adam leaves the overlapping start in far fewer steps


def test_fusion_history_runs_from_the_start_to_the_returned_posteriors():
    """history[k] is recorded before step k: history[0] is exp(-VI(F, U)) at the start, where the posteriors of F
    coincide to init_std = 1e-6 (F carries nothing: VI = H~(U) = 2 I_U - I_UU nats, to ~1e-12); its last entry is
    the similarity of the posteriors returned, recomputed here from their fingerprint."""
    rng = np.random.default_rng(4)
    stack = np.stack([fp.fingerprint(rng.normal(0, 2, 12), rng.uniform(-2, 0, 12)) for _ in range(2)])
    fused = fp.fuse(stack, similarity="vi", optimizer="adam", lr=0.05, steps=2, init_std=1e-6)
    entropy = (2 * fp.channel_info(stack) - fp.channel_info(2 * stack)) * LN2
    assert fused.history[0] == pytest.approx(np.exp(-entropy).mean(), abs=1e-9)
    assert abs(fused.history[1] - fused.history[0]) > 1e-6  # after one Adam step: 2.2e-5 away, >> the 1e-9 above
    assert fused.history.shape == (3,)
    f = fp.fingerprint(fused.mu[:, 0], fused.logvar[:, 0])
    vi = (2 * fp.channel_info(f + stack) - fp.channel_info(2 * f) - fp.channel_info(2 * stack)) * LN2  # (2,) nats
    assert fused.history[-1] == pytest.approx(np.exp(-vi).mean(), abs=1e-9)
    assert abs(fused.history[-1] - fused.history[1]) > 1e-6  # the second step moved it: not the value before it


def test_fuse_and_information_reject_bad_input():
    with pytest.raises(ValueError, match="unknown similarity"):
        fp.fuse(np.zeros((2, 5, 5)), similarity="cka")
    with pytest.raises(ValueError, match="unknown optimizer"):
        fp.fuse(np.zeros((2, 5, 5)), optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"\(M, N, N\)"):
        fp.fuse(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="no NaN"):
        fp.channel_info(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"at least one, got shape \(0, 5, 5\)"):
        fp.fuse(np.zeros((0, 5, 5)))
    with pytest.raises(ValueError, match=r"init_std > 0 .*init_std=0"):
        fp.fuse(np.zeros((2, 5, 5)), similarity="nmi", init_std=0)
    for kwargs, message in ((dict(dim=1.5), r"dim must be an integer >= 1 \(dimensions of the fused space\)"),
                            (dict(dim=True), r"dim must be an integer"), (dict(steps=2.5), r"steps must be an integer"),
                            (dict(seed=None), r"seed must be an integer")):  # numpy/torch TypeErrors; True was 1
        with pytest.raises(ValueError, match=message):
            fp.fuse(np.zeros((2, 5, 5)), **kwargs)
    d = fp.fingerprint(100.0 * np.arange(6), np.zeros(6))  # six separated points: log2 6 bits
    for bad in (np.exp(-d), np.triu(d)):  # a similarity instead of a distance; one triangle only
        with pytest.raises(ValueError, match=r"symmetric with a zero diagonal"):
            fp.channel_info(bad)
    assert fp.channel_info(d) == pytest.approx(math.log2(6), abs=1e-12)  # the real fingerprint passes
    with pytest.raises(ValueError, match="one channel"):
        fp.fingerprint(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        fp.channel_similarity(np.array([[0.0], [np.inf]]), np.zeros((2, 1)))


def test_cross_member_nmi_averages_the_pairs_of_different_members():
    nmi = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.4], [0.2, 0.4, 1.0]])
    members = np.array([0, 0, 1])
    assert fp.cross_member_nmi(nmi, members) == pytest.approx(0.3, abs=1e-15)  # (0.2 + 0.4) / 2: 0.9 is within a member
    nmi[1, 2] = nmi[2, 1] = np.nan  # an undefined pair is left out
    assert fp.cross_member_nmi(nmi, members) == pytest.approx(0.2, abs=1e-15)
    assert math.isnan(fp.cross_member_nmi(nmi, np.zeros(3, dtype=int)))  # one member: no pair
    with pytest.raises(ValueError, match=r"nmi must be \(K, K\) with members \(K,\)"):
        fp.cross_member_nmi(nmi, members[:2])


def test_planted_hotspots_stand_out_from_the_cross_member_background():
    """3 features shared by 6 members: a hotspot's channels have NMI near 1, while a random pair of channels of
    different members shares a feature with probability 1/3 (and has NMI near 0 otherwise)."""
    mu, logvar, member, feature = planted_ensemble(6, 200, seed=11)
    kept = fp.kept_channels(fp.channel_information(mu, logvar))
    nmi = fp.channel_similarity(mu[:, kept], logvar[:, kept]).nmi
    background = fp.cross_member_nmi(nmi, member[kept])
    same = feature[kept][:, None] == feature[kept][None, :]
    across = member[kept][:, None] != member[kept][None, :]
    within, other = nmi[same & across].mean(), nmi[~same & across].mean()  # 90 and 180 of the 270 ordered pairs
    assert within > 0.9 and other < 0.2  # independent features: small, not 0, at N = 200
    assert background == pytest.approx(within / 3 + other * 2 / 3, rel=1e-12)


def test_shuffled_channels_keep_each_channels_information_and_destroy_what_they_share():
    mu, logvar, member, feature = planted_ensemble(4, 200, seed=11)
    kept = fp.kept_channels(fp.channel_information(mu, logvar))
    mu, logvar = mu[:, kept], logvar[:, kept]
    smu, slv = fp.shuffled_channels(mu, logvar, seed=5)
    for j in range(mu.shape[1]):  # each column a permutation of its own (mu, logvar) pairs
        assert sorted(zip(smu[:, j], slv[:, j])) == sorted(zip(mu[:, j], logvar[:, j]))
    np.testing.assert_allclose(fp.channel_information(smu, slv), fp.channel_information(mu, logvar), rtol=1e-12)
    again = fp.shuffled_channels(mu, logvar, seed=5)
    assert np.array_equal(again[0], smu) and not np.array_equal(fp.shuffled_channels(mu, logvar, seed=6)[0], smu)
    real, null = fp.channel_similarity(mu, logvar).nmi, fp.channel_similarity(smu, slv).nmi
    same = feature[kept][:, None] == feature[kept][None, :]
    off = ~np.eye(len(kept), dtype=bool)
    assert real[same & off].min() > 0.9 and null[off].max() < 0.25  # the estimator's floor at N = 200: ~0.15


def test_hotspot_within_nmi_averages_each_hotspots_pairs():
    nmi = np.array([[1.0, 0.8, 0.1, 0.2], [0.8, 1.0, 0.3, np.nan], [0.1, 0.3, 1.0, 0.6], [0.2, np.nan, 0.6, 1.0]])
    spots = fp.Hotspots(labels=np.array([0, 0, 1, 1]), ordering=np.arange(4), reachability=np.r_[np.inf, 1, 1, 1],
                        members=np.arange(4), min_samples=2)
    np.testing.assert_allclose(fp.hotspot_within_nmi(nmi, spots), [0.8, 0.6], rtol=0, atol=1e-15)
    none = fp.Hotspots(labels=np.full(4, -1), ordering=np.arange(4), reachability=np.r_[np.inf, 1, 1, 1],
                       members=np.arange(4), min_samples=2)
    assert fp.hotspot_within_nmi(nmi, none).shape == (0,)


def planted_hotspot(channels_per_member: int, members: int = 3, block: float = 0.9, background: float = 0.1):
    """NMI (K, K) of ``members`` x ``channels_per_member`` channels, member-major: channel 0 of every member forms a
    block of NMI ``block``, every other pair ``background``; and Hotspots holding that block as hotspot 0."""
    k = members * channels_per_member
    member = np.repeat(np.arange(members), channels_per_member)
    nmi = np.full((k, k), background)
    first = np.arange(members) * channels_per_member
    nmi[np.ix_(first, first)] = block
    np.fill_diagonal(nmi, 1.0)
    labels = np.full(k, -1)
    labels[first] = 0
    return nmi, fp.Hotspots(labels, np.arange(k), np.full(k, np.inf), member, 2)


def test_a_planted_block_stands_out_from_matched_random_groups():
    """One channel per member, 8 channels each: a random group is the block itself with probability 8^-3 = 0.002, so
    p <= 0.01 (1,000 draws); the block's NMI across members is exactly 0.9."""
    nmi, spots = planted_hotspot(8)
    test = fp.matched_group_test(nmi, spots, draws=1000, seed=0)
    assert test.observed.tolist() == [pytest.approx(0.9, abs=1e-15)]
    assert test.p_value[0] <= 0.01 and test.null.shape == (1, 1000)
    # a group holds 0, 2 or 3 block channels: its mean over 3 pairs is 0.1, (0.9 + 0.2) / 3 or 0.9
    assert set(np.round(test.null.ravel(), 12)) <= {0.1, round(1.1 / 3, 12), 0.9}


def test_without_structure_every_random_group_ties_the_hotspot():
    """Every pair of different members at NMI 0.2: each random group scores exactly the hotspot's 0.2, so p = 1
    (the shuffled-points null, at ~0, would have called this hotspot significant)."""
    nmi, spots = planted_hotspot(5, block=0.2, background=0.2)
    test = fp.matched_group_test(nmi, spots, draws=200, seed=1)
    assert test.p_value.tolist() == [1.0]


def test_matched_groups_keep_the_member_make_up_and_are_seeded():
    """Channels of members 0 and 1 agree at 0.5, all other pairs of different members at 0.1. A hotspot of one
    channel of members 0, 1 and 2 scores (0.5 + 0.1 + 0.1) / 3, and so does every group with its make-up (a group
    drawn from other members would score 0.1): all 200 null values equal it, p = 1."""
    nmi, spots = planted_hotspot(4, members=4, block=0.1, background=0.1)
    nmi[np.ix_(spots.members == 0, spots.members == 1)] = nmi[np.ix_(spots.members == 1, spots.members == 0)] = 0.5
    spots.labels[:] = -1
    spots.labels[[0, 4, 8]] = 0
    test = fp.matched_group_test(nmi, spots, draws=200, seed=2)
    np.testing.assert_allclose(test.null, 0.7 / 3, rtol=0, atol=1e-15)
    assert test.p_value.tolist() == [1.0]
    first, again = (fp.matched_group_test(nmi, spots, draws=50, seed=3).null for _ in range(2))
    np.testing.assert_array_equal(first, again)


def test_a_hotspot_of_one_member_has_no_cross_member_pairs():
    nmi, spots = planted_hotspot(4)
    spots.labels[:] = -1
    spots.labels[[0, 1]] = 0  # two channels of member 0
    test = fp.matched_group_test(nmi, spots, draws=10, seed=0)
    assert np.isnan(test.observed[0]) and np.isnan(test.p_value[0])
    with pytest.raises(ValueError, match=r"nmi must be \(K, K\) for the K = 12 channels"):
        fp.matched_group_test(nmi[:4, :4], spots)


def test_the_hotspots_own_group_ties_it_whatever_the_optics_order():
    """The mean ran over the channels in OPTICS order for the hotspot and in member order for a random group: the same
    set could score 1 ulp lower and not count, p 0.0005 instead of ~1/16 (4 members x 2 channels, random NMI; over
    the first 200 seeds' OPTICS orders)."""
    members = np.repeat(np.arange(4), 2)
    block = np.array([0, 2, 4, 6])
    for seed in range(200):
        rng = np.random.default_rng(seed)
        noise = 0.2 * rng.random((8, 8))
        nmi = (noise + noise.T) / 2
        inner = 0.8 + 0.2 * rng.random((4, 4))
        nmi[np.ix_(block, block)] = (inner + inner.T) / 2
        np.fill_diagonal(nmi, 1.0)
        labels = np.full(8, -1)
        labels[block] = 0
        spots = fp.Hotspots(labels, np.r_[rng.permutation(block), [1, 3, 5, 7]], np.full(8, np.inf), members, 2)
        assert fp.group_cross_member_nmi(nmi, members, spots.channels(0)) == \
            fp.group_cross_member_nmi(nmi, members, block), seed
