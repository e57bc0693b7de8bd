"""Disentanglement metrics: how well single codes z_j of a representation capture single ground-truth factors v_k.

Pure functions of (a representation or its codes, the ground-truth factors, a random state), with the definitions
and defaults of the original papers as google-research/disentanglement_lib implements them:

- :func:`mig` (ours): Mutual Information Gap from the encoder's posteriors (mu, logvar) (n, L) and factors (n, K),
  with I(z_j; v_k) of the 1-D Gaussian mixtures themselves (no bins, no sampling; computed to ~1e-3 nats);
  :func:`mig_histogram`: disentanglement_lib's, from 20-bin histograms of codes (n, L);
- :func:`sap`: best minus second-best single-code predictor of each factor (codes, factors, held-out points);
- :func:`dci`: disentanglement, completeness, informativeness from gradient-boosted trees (codes, factors, held-out
  points), and :func:`dci_from_importance` for an importance matrix;
- :func:`beta_vae_score` (Higgins et al.), :func:`factor_vae_score` (Kim & Mnih): from ``represent``, the factor
  sizes and a seed.

Factors are integer class indices (e.g. dSprites' ``latents_classes`` without the constant colour). The sampled
metrics take ``represent(factors: (n, K) int) -> codes (n, L)``, so they run on dSprites (render, then encode), on
the synthetic world "observation = factors" of their known-answer tests, or on any model. Information is in nats.
Modules: :mod:`.mig`, :mod:`.dci` (with the pure :func:`dci_from_importance`), :mod:`.sap`, :mod:`.sampled` (BetaVAE
and FactorVAE scores), :mod:`.inputs` (checks and seeded factor draws).
"""

from .dci import DCI, dci, dci_from_importance
from .mig import MIG, factor_entropy, histogram_mi_matrix, mig, mig_histogram, posterior_mi_matrix
from .sampled import BetaVAEScore, FactorVAEScore, beta_vae_score, factor_vae_score
from .sap import SAP, sap

__all__ = ["DCI", "MIG", "SAP", "BetaVAEScore", "FactorVAEScore", "beta_vae_score", "dci", "dci_from_importance",
           "factor_entropy", "factor_vae_score", "histogram_mi_matrix", "mig", "mig_histogram",
           "posterior_mi_matrix", "sap"]
