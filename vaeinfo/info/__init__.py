"""What the factors carry: per-factor MI (:mod:`.mi`), decompositions of the KL term (:mod:`.decomposition`),
influential factors and top-k (:mod:`.influence`), information about labels (:mod:`.label_mi`), classifiers on
the factors (:mod:`.classify`) and factor-attribute AUCs (:mod:`.attributes`)."""
