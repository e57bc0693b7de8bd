"""Training: the config (:mod:`.config`), the loop (:mod:`.train`), checkpoints and the cache key
(:mod:`.checkpoint`), and encoding a data set with a trained model (:mod:`.encode`).

Every part works with any model of the contract (:mod:`vaeinfo.models.contract`): the built-in architectures,
built from a config, or a ``torch.nn.Module`` of one's own passed as ``train(..., model=...)``."""
