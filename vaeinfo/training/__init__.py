"""Training: the config (:mod:`.config`), the loop (:mod:`.train`), checkpoints and the cache key
(:mod:`.checkpoint`), and encoding a data set with a trained model (:mod:`.encode`)."""
