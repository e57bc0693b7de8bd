"""The experiments the notebooks run: one function each, returning plain results (:mod:`.mnist`, :mod:`.celeba`,
:mod:`.emotion`; :mod:`.vae` holds what they share)."""
