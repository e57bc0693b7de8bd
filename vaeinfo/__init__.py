"""vaeinfo: per-factor mutual information in variational autoencoders.

The package, one concept per subpackage; imports point one way, down this list (``tests/test_layout.py``):

- :mod:`vaeinfo.experiments` (what the notebooks run) and :mod:`vaeinfo.viz` (figures and live widgets);
- :mod:`vaeinfo.info` (per-factor MI and what is built on it) and :mod:`vaeinfo.training` (the cached, resumable
  training loop, checkpoints, encoding);
- :mod:`vaeinfo.data` (MNIST, CelebA, DEAP) and :mod:`vaeinfo.models` (the model contract, architectures,
  objectives);
- :mod:`vaeinfo.io` (atomic writes, the cache folder, CPUs, progress bars).

:mod:`vaeinfo.results` and :mod:`vaeinfo.reproduce` sit on top (results files, the papermill driver). Everything is
imported by its full module path, e.g. ``from vaeinfo.info.mi import factor_mi``; the one short path kept for the
paper's tool is :mod:`vaeinfo.mi` (``from vaeinfo.mi import factor_mi``). Importing ``vaeinfo`` itself loads nothing.
"""

__version__ = "0.1.0"
