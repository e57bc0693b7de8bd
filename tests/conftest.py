"""Shared fixtures: the real data folder from $VAEINFO_DATA (CI sets it to ../shared/data), an interrupted training."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder named by $VAEINFO_DATA.

    Without it the test is skipped with the reason shown -- except under CI (``CI=true``), where the real
    data must be there and its absence fails the test.
    """
    value = os.environ.get("VAEINFO_DATA")
    if not value:
        _missing("VAEINFO_DATA is not set: point it at a folder with MNIST/raw/ (CI uses ../shared/data)")
    return Path(value).resolve()


@pytest.fixture(scope="session")
def mnist_root(data_root: Path) -> Path:
    """A data folder that holds the four MNIST IDX files in torchvision's layout."""
    if not (data_root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        _missing(f"no MNIST in {data_root}/MNIST/raw")
    return data_root


@pytest.fixture(scope="session")
def celeba_root(data_root: Path) -> Path:
    """A data folder that holds the CelebA layout (CI: the shared 10,000-image subset)."""
    if not (data_root / "celeba" / "list_attr_celeba.txt").is_file():
        _missing(f"no CelebA in {data_root}/celeba")
    return data_root


def _missing(reason: str) -> None:
    """Skip (locally) or fail (under CI) a test whose real data is absent."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} -- CI must run every data test")
    pytest.skip(reason)


@pytest.fixture
def stopped_in_epoch_2(monkeypatch) -> Callable[[], contextlib.AbstractContextManager]:
    """A context manager in which training stops with KeyboardInterrupt as epoch 2 starts (epoch 1 is checkpointed).

    ``with stopped_in_epoch_2(): train(...)`` -- the interrupt is expected inside (the block fails without one) and
    the real loop is back afterwards.
    """
    from vaeinfo.training import train as tr

    real = tr._train_epoch

    def stop_in_epoch_2(state, *args, **kwargs):
        if state.epoch == 1:
            raise KeyboardInterrupt
        return real(state, *args, **kwargs)

    @contextlib.contextmanager
    def stopped():
        monkeypatch.setattr(tr, "_train_epoch", stop_in_epoch_2)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(tr, "_train_epoch", real)

    return stopped


@pytest.fixture
def three_threads():
    """torch's intra-op thread count set to 3 (restored after): a count that neither the default under
    ``OMP_NUM_THREADS=1`` nor a function that wrongly sets 1 would leave, so "the count is restored" can fail."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        yield 3
    finally:
        torch.set_num_threads(before)
