"""Per-factor mutual information I(X; Z_h) of a VAE's factorised Gaussian encoder.

Under the empirical data distribution (N inputs x_i, each encoded as q(z|x_i) = prod_h N(mu_ih, sigma_ih^2))
the aggregate posterior of factor h is the 1-D Gaussian mixture q(z_h) = (1/N) sum_i N(mu_ih, sigma_ih^2), and

    I(X; Z_h) = H(q(z_h)) - (1/N) sum_i 1/2 log(2 pi e sigma_ih^2)        (nats, 0 <= I <= log N).

:func:`factor_mi` estimates it for all d factors at once. Methods (all return float64 arrays of shape (d,), nats):

============  ==========================================================  =========================  ==============
method        what it computes                                            relation to I              cost
============  ==========================================================  =========================  ==============
grid          mixture entropy by quadrature of the FFT-gridded density    consistent, error ~< tol   O(N d + d M log M)
mc            nested Monte Carlo: -mean log q(z), z ~ q (exact inner sum) unbiased, MC error         O(S N d)
quad          exact density on composite Gauss-Legendre nodes             reference, error ~1e-9     O(N P d)
gaussian      the paper code's mean_i KL(N(mu_i, s_i^2) || N(0, s*^2))     upper bound                O(N d)
kt_lower      Kolchinsky-Tracey, Bhattacharyya distance                   lower bound (n < N: of the O(n^2 d)
                                                                          subsample's I, in expect.)
kt_upper      Kolchinsky-Tracey, Kullback-Leibler divergence              upper bound (n < N: of the O(n^2 d)
                                                                          subsample's I only)
dimwise_kl    mean_i KL(N(mu_i, s_i^2) || N(0, 1))                         upper bound                O(N d)
============  ==========================================================  =========================  ==============

(M: grid points, about (range of z_h) / (min sigma_h / 4); S: Monte Carlo samples; P: quadrature nodes;
n = min(N, max_n).) Two identities explain the cheap bounds. For any density r,

    mean_i KL(q(z_h|x_i) || r) = I(X; Z_h) + KL(q(z_h) || r)  >=  I(X; Z_h),

so ``dimwise_kl`` (r = N(0, 1)) and ``gaussian`` (r = N(0, s*^2), s*^2 = mean(sigma^2 + mu^2)) are upper bounds.
``gaussian`` equals I + KL(q(z_h) || N(m, V)) + 1/2 log(1 + m^2 / V) with m = mean(mu), V the aggregate variance:
it is tight only when q(z_h) is Gaussian AND centred (m = 0); it is not invariant to shifting mu.

The decompositions (:func:`~vaeinfo.info.decomposition.kl_decomposition`, total correlation, aggregate variance) are in
:mod:`vaeinfo.info.decomposition`. Modules: :mod:`.api` (the entry points re-exported here), :mod:`.grid`,
:mod:`.bounds`, :mod:`.montecarlo`, :mod:`.quadrature`, :mod:`.mixture` (shared mixture densities).
"""

from .api import LOGVAR_LIMIT, METHODS, MCEstimate, as_posterior, factor_mi, mc_mi

__all__ = ["LOGVAR_LIMIT", "METHODS", "MCEstimate", "as_posterior", "factor_mi", "mc_mi"]
