"""Input paths -> the sorted list of files to read, resolved on the driver.

`expand` gives the WARC/WET/ARC files of the filter job's inputs: files, folders (their
archive files, not recursive), globs, and manifests: text files listing one path per line,
as Common Crawl publishes them (`warc.paths.gz`) and as cc-pyspark reads them.
`expand_files` gives the files of any type named by files, folders or globs (reference
texts such as Gutenberg books), without manifests. Paths go through fsspec, so `s3a://` or
`hdfs://` work where the matching fsspec back-end (s3fs, pyarrow) is installed. A
manifest's relative entries are resolved against `prefix` (e.g. "s3a://commoncrawl/"), else
against the manifest's folder.
"""
from __future__ import annotations

import gzip
import posixpath

import fsspec
from .errors import UserError

ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz")
MANIFEST_SUFFIXES = (".paths", ".paths.gz", ".txt", ".txt.gz", ".lst")


class InputError(UserError, ValueError):
    """An input that does not exist or holds no archive file; the message is for the user."""


def exists(path: str) -> bool:
    fs, _, _ = fsspec.get_fs_token_paths(path)
    return fs.exists(path)


def printable(path: str) -> str:
    """`path` as text that any UTF-8 writer accepts: a file name that is not UTF-8 (Python
    carries its bytes as lone surrogates) shows those bytes as `\\xff` escapes. Used for the
    `source` column and shard names; the file is still opened by its real name."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def identity(path: str) -> str:
    """What tells one version of a file from another without reading it: size, modification
    time and, where the store has one, its ETag. A shard is reused only for the same identity,
    so a file repaired or replaced in place is read again."""
    fs, _, _ = fsspec.get_fs_token_paths(path)
    try:
        info = fs.info(path)
    except (FileNotFoundError, OSError):
        return "missing"
    modified = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or ""
    return f"{info.get('size')}:{modified}:{info.get('ETag') or info.get('etag') or ''}"


def size_of(identity_: str) -> int:
    """The file size an `identity` holds (0 for a missing file)."""
    size = identity_.split(":", 1)[0]
    return int(size) if size.isdigit() else 0


def is_archive(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def is_manifest(path: str) -> bool:
    return path.lower().endswith(MANIFEST_SUFFIXES)


def expand(paths, prefix: str = "") -> list[str]:
    """Every archive file named by `paths`, sorted and without repeats."""
    files = []
    for path in paths:
        found = _expand_one(path, is_archive, manifest_prefix=prefix)
        if not found:
            raise InputError(f"input {path!r} holds no WARC/WET/ARC file")
        files.extend(found)
    return sorted(set(files))


def expand_files(paths, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Every file named by `paths` (files, folders' files, globs) whose name ends with one of
    `suffixes` (any name when there are none), sorted and without repeats. A file named
    outright is kept whatever its name; manifests are files like any other here."""
    def wanted(name: str) -> bool:
        return not suffixes or name.lower().endswith(suffixes)

    files = []
    for path in paths:
        found = _expand_one(path, wanted)
        if not found:
            raise InputError(f"input {path!r} holds no file" + (f" ending {'/'.join(suffixes)}" if suffixes else ""))
        files.extend(found)
    return sorted(set(files))


def _expand_one(path: str, wanted, manifest_prefix: str | None = None) -> list[str]:
    """The files a glob matches or a folder holds whose name is `wanted`; a manifest's
    entries where `manifest_prefix` is given; else the file itself."""
    fs, _, _ = fsspec.get_fs_token_paths(path)
    if any(ch in path for ch in "*?["):
        return _files(fs, fs.glob(path, detail=True), wanted, path)
    if not fs.exists(path):
        raise InputError(f"input not found: {path}")
    if fs.isdir(path):
        return _files(fs, fs.ls(path, detail=True), wanted, path)
    if manifest_prefix is not None and is_manifest(path):
        return read_manifest(path, manifest_prefix)
    return [path]


def _files(fs, listing, wanted, original: str) -> list[str]:
    """Names of the files (not folders) in an fsspec listing, as a dict or a list of infos."""
    infos = listing.values() if isinstance(listing, dict) else listing
    return [_unstrip(fs, info["name"], original) for info in infos
            if info.get("type") != "directory" and wanted(info["name"])]


def read_manifest(path: str, prefix: str = "") -> list[str]:
    """Paths listed in a manifest (blank lines and # comments skipped); not checked for existence,
    since a missing file in a long manifest is a counted `file_missing`, not a failed run."""
    with fsspec.open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    base = prefix or posixpath.dirname(path) + "/"
    entries = (line.strip() for line in data.decode("utf-8").splitlines())
    return [_resolve(entry, base) for entry in entries if entry and not entry.startswith("#")]


def _resolve(entry: str, base: str) -> str:
    if "://" in entry or entry.startswith("/"):
        return entry
    return base.rstrip("/") + "/" + entry if base not in ("", "/") else entry


def _unstrip(fs, found: str, original: str) -> str:
    """fsspec drops the protocol from what glob/ls return; put it back for remote paths."""
    if "://" in original and "://" not in found:
        return fs.unstrip_protocol(found)
    return found
