"""bordersim's own folders: which ones may be replaced, and replacing them safely.

Every folder bordersim writes (results, compare, sweep, calibration) holds a
small marker file naming its kind. ``--out`` may only ever replace a folder of
the same kind, and only when asked (``--force``); any other existing folder
that is not empty is refused, so nothing of the user's is deleted.

A folder is written whole into a hidden sibling ``.NAME.tmp-PID`` and swapped
into place: on Linux with one atomic exchange (``renameat2``), so a folder is
at ``--out`` at every instant; elsewhere with two renames through
``.NAME.old-PID``. Hidden siblings left by a killed process (its PID no longer
running) are cleaned on the next write, and an ``.old-PID`` left between the
two renames is put back first.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bordersim.loading import ScenarioError

__all__ = ["MARKER", "KINDS", "mark_folder", "folder_kind", "check_out", "atomic_folder",
           "swap_into", "recover_folder", "clean_stale", "folder_lock", "FolderBusy",
           "pid_alive"]

MARKER = ".bordersim-folder"
KINDS = {"results": "a results folder", "compare": "a compare folder",
         "sweep": "a sweep folder", "calibration": "a calibration folder"}
_HIDDEN = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)$")


def mark_folder(folder: Path, kind: str) -> None:
    """Say that ``folder`` is bordersim's, and of which kind (the same bytes every time)."""
    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}")
    (Path(folder) / MARKER).write_text(json.dumps({"kind": kind, "written_by": "bordersim"})
                                       + "\n", encoding="utf-8")


def _json(path: Path) -> dict | None:
    try:
        if path.stat().st_size > 10_000_000:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def folder_kind(path: Path) -> str | None:
    """The kind of bordersim folder at ``path``, or None when it is not one of bordersim's.

    Folders written before the marker existed are recognised by their manifest."""
    p = Path(path)
    if p.is_symlink() or not p.is_dir():
        return None
    marker = _json(p / MARKER)
    if marker is not None:
        kind = marker.get("kind")
        return kind if kind in KINDS else None
    manifest = _json(p / "manifest.json") or {}
    if manifest.get("kind") == "sweep" and (p / "runs.csv").is_file():
        return "sweep"
    if manifest.get("kind") == "calibration":
        return "calibration"
    versions = manifest.get("versions")
    if ("scenario_sha256" in manifest and isinstance(versions, dict)
            and "bordersim" in versions and (p / "summary.csv").is_file()):
        return "results"
    index = _json(p / "compare.json") or {}
    if "base" in index and "comparisons" in index and (p / "compare.csv").is_file():
        return "compare"
    return None


def _fail(out: Path, message: str, option: str) -> ScenarioError:
    return ScenarioError(option, [("", f"{out}: {message}")])


def _nearest_existing(p: Path) -> Path:
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def check_out(out: Path, kind: str, *, force: bool = False, option: str = "--out") -> None:
    """Refuse, before anything runs, an ``out`` that bordersim must not or cannot write.

    Allowed: a new folder, an empty folder, or (with ``force``) a folder of the same kind.
    """
    out = Path(out)
    what = KINDS[kind]
    if os.path.islink(out):
        if not out.exists():
            raise _fail(out, "is a broken or looping symbolic link; expected a folder",
                        option)
        raise _fail(out, "is a symbolic link; give the folder itself (bordersim replaces a "
                         "folder by renaming, which would replace the link)", option)
    try:
        real = out.resolve()
        here = Path.cwd().resolve()
    except RuntimeError:         # Python before 3.13 on a symlink loop
        raise _fail(out, "goes through a broken or looping symbolic link", option) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _fail(out, "goes through a broken or looping symbolic link",
                        option) from None
        raise _fail(out, f"cannot be resolved ({e.strerror or e})", option) from None
    if real == real.parent or real == here or real in here.parents:
        raise _fail(out, "is the current folder or one that holds it; give a new folder, "
                         "such as results/NAME", option)
    if out.exists() and not out.is_dir():
        raise _fail(out, "is a file; expected a folder to write results into", option)
    base = _nearest_existing(out.parent)
    if base != out.parent and os.path.islink(base) and not base.exists():
        raise _fail(base, "is a broken or looping symbolic link; expected a folder", option)
    if not base.is_dir():
        raise _fail(base, "is not a folder", option)
    _probe_writable(base, out, option)
    if out.is_dir():
        try:
            empty = next(out.iterdir(), None) is None
        except OSError as e:
            raise _fail(out, f"cannot be read ({e.strerror})", option) from None
        if empty:
            return
        found = folder_kind(out)
        if found is None:
            raise _fail(out, f"already holds files that bordersim did not write (it is not "
                             f"{what}); bordersim replaces only its own folders: give a new "
                             f"folder", option)
        if found != kind:
            raise _fail(out, f"is {KINDS[found]}; {what} cannot replace it: give another "
                             "folder", option)
        if not force:
            raise _fail(out, f"{what} is already there; --force replaces it (the old one is "
                             "kept until the new one is complete)", option)


def _probe_writable(base: Path, out: Path, option: str) -> None:
    """Make and remove a hidden folder in ``base``: the only test of writing that also holds
    for read-only file systems, immutable folders and root."""
    try:
        probe = tempfile.mkdtemp(prefix=f".{out.name or 'out'}.probe-", dir=base)
        os.rmdir(probe)
    except OSError as e:
        raise _fail(out, f"cannot write in {base} ({e.strerror or e})", option) from None


# --- swapping a finished folder into place -----------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_into(tmp: Path, out: Path, exchange: Callable[[Path, Path], bool] = _exchange
              ) -> None:
    """Put the finished folder ``tmp`` at ``out``, replacing what is there."""
    if not os.path.lexists(out):
        try:
            os.rename(tmp, out)
            return
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise        # someone made ``out`` meanwhile: replace it below
    if exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)   # now the old folder
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _leftovers(out: Path) -> Iterator[tuple[Path, str, int]]:
    """Hidden siblings of ``out`` left by processes that no longer run: (path, tmp|old, pid)."""
    try:
        entries = list(Path(out).parent.iterdir())
    except OSError:
        return
    for p in entries:
        m = _HIDDEN.match(p.name)
        if m and m["name"] == out.name and not pid_alive(int(m["pid"])):
            yield p, m["what"], int(m["pid"])


def recover_folder(out: Path) -> Path | None:
    """Put back the folder a process killed between its two renames left as ``.old-PID``
    (when nothing is at ``out``). Returns the path restored from, if any."""
    out = Path(out)
    if os.path.lexists(out):
        return None
    olds = sorted((p for p, what, _ in _leftovers(out) if what == "old" and p.is_dir()),
                  key=lambda p: p.stat().st_mtime)
    if not olds:
        return None
    os.rename(olds[-1], out)
    return olds[-1]


def clean_stale(out: Path) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` and ``.NAME.old-PID`` left beside ``out`` by dead processes
    (after :func:`recover_folder`). Returns what was removed."""
    out = Path(out)
    recover_folder(out)
    removed = []
    for p, _, _ in _leftovers(out):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
        removed.append(p)
    return removed


def atomic_folder(out: Path, write: Callable[[Path], None], kind: str | None = None, *,
                  force: bool = False) -> Path:
    """Call ``write(tmp)`` to fill a temporary folder, mark it, then swap it in at ``out``.

    With a ``kind``, ``out`` may be new, empty, or (with ``force``) a folder of that kind;
    anything else raises ScenarioError and nothing is written. Without one, ``out`` is a
    folder bordersim owns inside one of its own (such as a report's figures) and is
    replaced whole."""
    out = Path(out)
    clean_stale(out)
    if kind is not None:
        check_out(out, kind, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        if kind is not None:
            mark_folder(tmp, kind)     # last: a marked folder is a complete one
        swap_into(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# --- one process at a time in a folder ---------------------------------------------------

class FolderBusy(ScenarioError):
    """Another bordersim process holds the folder's lock."""


@contextlib.contextmanager
def folder_lock(out: Path, what: str = "bordersim") -> Iterator[Path]:
    """Hold an exclusive lock on ``out`` (a hidden ``.NAME.lock`` beside it) for the block.

    The lock is the kernel's (flock), so it goes with the process however it ends: a
    killed sweep never leaves a stale lock. A second process is refused at once."""
    import fcntl

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise FolderBusy(str(out), [("", f"another {what}{who} is writing this folder "
                                             "now; wait for it to finish (or stop it) and "
                                             "run this again")]) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)             # the file was removed by the holder as we opened it: again
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
