"""The paper's tool under its short, stable name: ``from vaeinfo.mi import factor_mi``.

This module only re-exports; the estimators live in :mod:`vaeinfo.info.mi` and the decompositions in
:mod:`vaeinfo.info.decomposition`. It is the package's one compatibility path (see the README's layout section).
"""

from .info.decomposition import (
           KLDecomposition,
           aggregate_variance,
           kl_decomposition,
           total_correlation,
)
from .info.mi import LOGVAR_LIMIT, METHODS, MCEstimate, as_posterior, factor_mi, mc_mi

__all__ = ["KLDecomposition", "LOGVAR_LIMIT", "METHODS", "MCEstimate", "aggregate_variance", "as_posterior", "factor_mi",
           "kl_decomposition", "mc_mi", "total_correlation"]
