"""Artifacts are written to a temporary name in their folder and renamed into place only when complete.

Temporary names carry the host, PID and process start time of their writer (`.model.onnx.HOST+PID+START-x.tmp`):
SIGINT and SIGTERM delete them on the way out, and after a SIGKILL (or a power cut) the next run in the same folder
deletes those of writers that are gone, and only those: a writer still running on this or another host keeps its
file. Output paths are checked before the expensive work (a file in the way of a folder, a read-only folder, too
little free space, an output that is one of the inputs), and what the file system refuses while writing becomes
one line naming the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import VGGDeployError
from .temp_names import remove_stale_temps, temp_prefix

__all__ = ["atomic_output", "atomic_folder", "scratch_folder", "check_output", "check_input_file", "OutputError",
           "InputFileError", "output_error", "temp_prefix", "remove_stale_temps", "removing_new_empty_folders",
           "write_text_atomic", "file_sha256"]

_SPACE_MARGIN = 1.1  # free space asked for on top of the expected size (file-system overhead, estimate error)


class OutputError(VGGDeployError):
    """An output path that cannot be written: a file where a folder should be, no permission, no space, an input."""


class InputFileError(VGGDeployError):
    """An input path that is not a readable regular file: missing, a folder, a FIFO or device, or empty."""


def check_input_file(path: str | Path, *, what: str = "a file", allow_empty: bool = False) -> Path:
    """Refuse, before anything opens it, what would hang a reader (a FIFO) or mislead it (a folder, 0 bytes;
    `allow_empty` leaves emptiness to a reader with a better message, e.g. an engine's manifest check)."""
    import stat

    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file; pass {what}") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror or exc}); pass {what} you can read") from None
    if stat.S_ISDIR(mode):
        raise InputFileError(f"{path}: is a folder; pass {what}")
    if not stat.S_ISREG(mode):
        raise InputFileError(f"{path}: not a regular file (a FIFO, socket or device); pass {what} saved on disk")
    if not allow_empty and os.stat(path).st_size == 0:
        raise InputFileError(f"{path}: is empty (0 bytes), e.g. from an interrupted copy; pass {what}, complete")
    return path


def output_error(path: str | Path, exc: OSError) -> OutputError:
    """The one-line error for an OSError raised while creating or writing `path`."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"{path}: no space left on the device (or quota exceeded); free some space or write to "
                           "another folder with -o")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = Path(exc.filename).parent if exc.filename else Path(path).parent
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return OutputError(f"{path}: cannot write in folder '{where}' ({why}); choose a writable folder with -o")
    if code in (errno.EEXIST, errno.ENOTDIR):
        return OutputError(f"{path}: a file is in the way of its folder ({_blocking_file(Path(path))}); "
                           "choose another output path")
    if code == errno.ENAMETOOLONG:
        return OutputError(f"{path}: the name is too long for the file system; choose a shorter output path")
    return OutputError(f"{path}: cannot write it ({exc.strerror or exc}); choose another output path")


def _blocking_file(path: Path) -> str:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            return f"'{parent}' is a file"
    return "a parent is not a folder"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output(
    path: str | Path, *, inputs: Iterable[str | os.PathLike[str] | None] = (), expected_bytes: int | None = None,
    folder: bool = False,
) -> Path:
    """Check, before any expensive work, that `path` can be written; raise OutputError (one line) if not.

    Refused: a folder where a file is to go (or the reverse), a file where a parent folder should be, a folder
    this process cannot create files in, less free space than `expected_bytes`, and an output that is the same
    file as one of `inputs` (same inode after resolving links: writing it would destroy the input). Nothing is
    created.
    """
    path = Path(path)
    for source in inputs:
        if source is None:
            continue
        with contextlib.suppress(OSError):
            if Path(source).exists() and path.exists() and os.path.samefile(source, path):
                raise OutputError(f"{path}: this is the input file {source}; writing it would destroy the input, "
                                  "so choose another output path")
    if path.is_dir() and not folder:
        raise OutputError(f"{path}: is a folder; give a file name such as {path / 'model.onnx'}")
    if path.exists() and folder and not path.is_dir():
        raise OutputError(f"{path}: is a file; give a new folder name")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise OutputError(f"{path}: a file is in the way of its folder ('{existing}' is a file); "
                          "choose another output path")
    try:  # os.access says yes to root on a read-only mount and no to some ACLs: ask the file system
        fd, probe = tempfile.mkstemp(prefix=temp_prefix("probe"), suffix=".tmp", dir=existing)
    except OSError as exc:
        raise output_error(path, exc) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    if expected_bytes:
        free = shutil.disk_usage(existing).free
        if free < expected_bytes * _SPACE_MARGIN:
            raise OutputError(f"{path}: about {_size(expected_bytes)} needed but only {_size(free)} free in "
                              f"'{existing}'; free some space or write to another folder with -o")
    return path


def _size(count: float) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def _make_parent(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(dest, exc) from None


@contextlib.contextmanager
def _translated(dest: Path) -> Iterator[None]:
    """A full disk while the body writes is about the output; other OSErrors may be about inputs and pass on."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise output_error(dest, exc) from None
        raise


def _chmod_as_created(path: Path, mode: int) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def atomic_output(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; rename it to `dest` on success, delete it on any error."""
    dest = Path(dest)
    _make_parent(dest)
    remove_stale_temps(dest.parent)
    try:
        fd, name = tempfile.mkstemp(prefix=temp_prefix(dest.name), suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise output_error(dest, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        with _translated(dest):
            yield tmp
            _chmod_as_created(tmp, 0o666)  # mkstemp makes 0600 files; artifacts get the usual permissions
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to `dest`; rename it to `dest` (which must not exist, or be empty) on
    success, delete it on any error. A concurrent writer that got there first makes this an OutputError."""
    dest = Path(dest)
    _make_parent(dest)
    remove_stale_temps(dest.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(dest.name), suffix=".tmp", dir=dest.parent))
    except OSError as exc:
        raise output_error(dest, exc) from None
    try:
        with _translated(dest):
            yield tmp
            _chmod_as_created(tmp, 0o777)  # like mkdir, not mkdtemp's 0700
            try:
                os.replace(tmp, dest)  # an empty existing folder is replaced; a non-empty one makes this fail
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise OutputError(f"{dest}: another process wrote it meanwhile; choose a new folder name") from None
                raise output_error(dest, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_folder(near: str | Path | None = None, *, name: str = "vgg-deploy") -> Iterator[Path]:
    """A temporary working folder (in `near`'s folder when it exists, else the system's temporary folder), named
    like other temporary outputs so that a later run removes it after a SIGKILL. While it exists, libraries that
    use `tempfile` (ONNX Runtime's quantizer) put their own scratch inside it."""
    parent = Path(near).parent if near is not None and Path(near).parent.is_dir() else Path(tempfile.gettempdir())
    remove_stale_temps(parent)
    try:
        folder = Path(tempfile.mkdtemp(prefix=temp_prefix(name), suffix=".tmp", dir=parent))
    except OSError as exc:
        raise output_error(parent / name, exc) from None
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def removing_new_empty_folders(folder: str | Path) -> Iterator[None]:
    """If the body fails, remove `folder` and the folders under it that it created and left empty, so a refused
    command leaves no empty output folder behind; files are never touched."""
    folder = Path(folder)
    existed = {p for p in (folder, *folder.parents) if p.exists()}
    try:
        yield
    except BaseException:
        if folder not in existed and folder.is_dir():
            for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    sub.rmdir()
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a UTF-8 text file complete or not at all (reports, tables); returns the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks: engines and checkpoints are hundreds of MB."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
