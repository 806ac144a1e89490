"""Writing files and folders atomically: readers see the old version or the complete new one, never a part.

Every helper writes to a temporary sibling of the target (same folder, so the same file system) and rename it
into place, so a failed or interrupted write leaves an existing target untouched and a concurrent reader never
loads a half-written file. A process killed mid-write leaves its temporary file behind; the next write of the
same target removes the temporary files of processes no longer alive on this host.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it into place; returns ``path``.

    A write that fails (a full disk, a quota) raises an ``OSError`` that names ``path`` and says that the
    previous file, if any, is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as error:
        kept = "the previous file is kept" if path.exists() else "nothing was written"
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"could not write {path}: {reason}; {kept}") from error
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_orphaned_temporaries(path: str | Path) -> list[Path]:
    """Delete ``path``'s temporary siblings left by writers that were killed; returns what was deleted.

    A temporary file is orphaned when the process named in it no longer runs on this host (a resumed run after a
    kill during a write). Files of live processes, and names that do not parse, are left alone.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        pid = tmp.name.rpartition("-")[2]
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return True


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` ``obj`` to ``path`` (parent folders created) through a temporary file; returns ``path``."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` (parent folders created) through a temporary file; returns ``path``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; on success it replaces ``target``, on error it goes.

    An existing ``target`` is renamed aside, replaced by the complete new folder and then deleted; if the
    final rename fails, the old folder is put back. Callers that must not replace an unrelated folder check
    ``target`` before entering.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would make the folder private
    try:
        yield tmp
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        if target.exists():
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except OSError:
            if old.exists():
                os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
