"""What the factors carry: per-factor MI (:mod:`.mi`), decompositions of the KL term and the ELBO
(:mod:`.decomposition`), influential factors and top-k (:mod:`.influence`), information about labels
(:mod:`.label_mi`), classifiers on the factors (:mod:`.classify`), factor-attribute AUCs (:mod:`.attributes`),
disentanglement metrics against ground-truth factors (:mod:`.disentanglement`: MIG, DCI, SAP, BetaVAE, FactorVAE)
and channel fingerprints compared across an ensemble of models (:mod:`.fingerprints`: KT bits, NMI/VI, OPTICS
hotspots, fusion)."""
