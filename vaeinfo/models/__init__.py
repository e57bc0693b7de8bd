"""Models: the contract every VAE meets (:mod:`.contract`), the architectures (:mod:`.architectures`) and the
training objectives (:mod:`.objectives`)."""
