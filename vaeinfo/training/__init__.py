"""Training: the config (:mod:`.config`), the loop (:mod:`.train`), checkpoints and the cache key
(:mod:`.checkpoint`), encoding a data set with a trained model (:mod:`.encode`), and sweeps and ensembles -- many
configs trained in this process or on a Dask distributed cluster, each through the cached loop (:mod:`.sweep`).

Every part but the sweeps works with any model of the contract (:mod:`vaeinfo.models.contract`): the built-in
architectures, built from a config, or a ``torch.nn.Module`` of one's own passed as ``train(..., model=...)``; a sweep
trains the built-in architectures its configs name."""
