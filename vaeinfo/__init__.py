"""vaeinfo: per-factor mutual information in variational autoencoders."""

__version__ = "0.1.0"
