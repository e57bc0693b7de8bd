"""Files and the machine: atomic writes, file locks, the cache folder, the CPUs available, progress bars.

Atomic file writes: nothing a user had is left half-written or lost.

Every file the package produces (results JSON, figures, checkpoints, caches) is first written to a
temporary file in the destination folder, flushed to disk, then moved over the target with
``os.replace`` -- an atomic rename on POSIX and Windows. A crash mid-write leaves the old file intact.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from tqdm import tqdm

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit, fsync it and rename it onto ``path``.

    ``mode`` is ``"wb"`` or ``"w"``. Parent folders are created. On an exception the temporary file
    is removed and ``path`` is untouched. A ``path`` that is a symbolic link is written through: the file it
    points to is replaced and the link kept.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_mode(target: Path) -> int:
    """The permission bits the file should get: the existing file's, else what ``open`` would give (0o666 & ~umask)."""
    if target.exists():
        return target.stat().st_mode & 0o7777
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask: read from /proc on Linux (setting it, the portable way, races with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


CACHE_ENV = "VAEINFO_CACHE"


# A Dask scheduler address: tcp://HOST[:PORT] (any scheme) or HOST:PORT.
SCHEDULER_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/]+|[^\s/:]+:\d+")


@contextmanager
def file_lock(path: str | os.PathLike, waiting: str | None = None) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created with its folders), blocking while another process or
    thread holds it; ``waiting`` is printed on stderr when it has to wait.

    No lock where ``fcntl`` is missing (Windows) or the lock file cannot be made or locked (a read-only folder, a
    file system without locks: whoever writes there next fails with its own error). On Linux NFS, ``flock`` holds
    across machines, but between threads of one process only on a local file system. Not re-entrant: a thread that
    takes the same lock twice waits for itself.
    """
    handle = None
    if fcntl is not None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")
        except OSError:  # no lock here
            pass
    try:
        if handle is not None:
            _acquire(handle, waiting)
        yield
    finally:
        if handle is not None:
            handle.close()  # closing the file releases its lock


def _acquire(handle: IO, waiting: str | None) -> None:
    """flock ``handle`` exclusively, saying ``waiting`` when another holder makes it wait; nothing where the file
    system refuses locks."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if waiting:
            print(waiting, file=sys.stderr, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:  # ENOLCK and the like: no locks here
        pass


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder (trained models, decoded images): explicit argument > ``$VAEINFO_CACHE`` >
    ``~/.cache/vaeinfo``."""
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser().resolve()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    return Path("~/.cache/vaeinfo").expanduser()


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printed in outputs that may be committed: without this machine's folders where possible.

    The first rule that applies: under ``$VAEINFO_DATA`` -> ``"$VAEINFO_DATA/..."``; under ``$VAEINFO_CACHE`` ->
    ``"$VAEINFO_CACHE/..."``; under ``$VAEINFO_DEAP`` (a licensed DEAP copy) -> ``"$VAEINFO_DEAP/..."``; under the
    current folder -> relative to it; under a parent of it up to the
    repository's root level (``..``) -> ``"../..."``; under the home folder -> ``"~/..."``; otherwise absolute.
    The variables match as given and resolved (a symlink, or a relative path with ``..``, still matches the
    resolved paths the loaders pass).
    """
    target = Path(path).expanduser().absolute()
    for var in ("VAEINFO_DATA", CACHE_ENV, "VAEINFO_DEAP"):
        if os.environ.get(var):
            given = Path(os.environ[var]).expanduser()
            for root, found in itertools.product(dict.fromkeys((given.absolute(), given.resolve())),
                                                 dict.fromkeys((target, target.resolve()))):
                if found.is_relative_to(root):
                    return "/".join([f"${var}", *found.relative_to(root).parts])
    cwd = Path.cwd()
    for prefix, root in (("", cwd), ("../", cwd.parent)):
        if target.is_relative_to(root) and root != Path(root.anchor):
            rel = target.relative_to(root).as_posix()
            return prefix + rel if rel != "." else (prefix.rstrip("/") or ".")
    home = Path.home()
    if target.is_relative_to(home):
        return "~/" + target.relative_to(home).as_posix()
    return str(target)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block (None: left as they are), and the count the block found
    restored afterwards, whatever the block set (process-wide)."""
    import torch  # here, not at the top: importing vaeinfo.io stays light

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def allowed_cpus() -> set[int]:
    """The logical CPUs this process may run on: its affinity mask (Linux), else all ``os.cpu_count()``."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota when there is one."""
    n = len(allowed_cpus())
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n


def progress_bar(iterable: Iterable | None = None, *, desc: str, unit: str, total: int | None = None,
                 enabled: bool = True) -> tqdm:
    """A plain-text tqdm bar on stderr, redrawn at most once a second: readable in papermill logs and terminals
    alike (no notebook widget). ``enabled=False`` shows nothing."""
    return tqdm(iterable, desc=f"vaeinfo: {desc}", unit=unit, total=total, file=sys.stderr, disable=not enabled,
                mininterval=1.0)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted, standard JSON to ``path`` atomically; return the path.

    numpy and torch scalars and arrays become numbers and lists, paths strings; NaN and infinities (which standard
    JSON lacks, and which browsers and ``jq`` refuse) are written as ``null``.
    """
    text = json.dumps(_standard(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def _standard(obj: Any) -> Any:
    """``obj`` with numpy/torch values as Python numbers and lists, paths as strings, NaN and infinities as None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _standard(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_standard(value) for value in obj]
    if obj is None or isinstance(obj, (str, int)):
        return obj
    if hasattr(obj, "tolist"):
        return _standard(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")
