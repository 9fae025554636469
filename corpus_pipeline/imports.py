"""Import: a reference corpus in its own format -> rows of one schema, file by file.

Consumes a `ReferenceSource` of an `ImportConfig`: files in a loader format of
`corpus_pipeline.references` (jsonl, mediawiki_xml, wikitext_tokens, gutenberg,
oscar_dummy), or WARC/WET/ARC files ("warc": the documents the ingest stage keeps, as
jobs/filter.py would before any quality filter). Produces, per input file, `FileRow`s:
every document (id, text) and, for "warc", every record ingest drops, with its reason, so
that each file is accounted for. `corpus_pipeline.spark.imports` writes the documents as
Parquet; "parquet" sources are read by Spark directly. Ids are the loaders' own (a hash of
the source name and the document's key, or of the WARC-Record-ID), so data built from an
import is the data built from the raw files.

Reference corpora enter the pipeline here once (GPT-3 Appendix A's WebText, Wikipedia and
books; section 2.2's mixture datasets); dedup references, mixtures and the quality
classifier read the imported Parquet only.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

from . import ingest, inputs, references
from .config import IngestConfig, ReferenceSource
from .stats import counted

DOCUMENT_COLUMNS = ("id", "source", "text")  # the schema of every import, whatever the format


FOLDER_FORMATS = ("oscar_dummy", "parquet")  # read whole, as one unit


class FileRow(NamedTuple):
    file: str
    id: str | None  # None for a file-level drop of "warc" (the file is missing or unreadable)
    text: str | None  # None when dropped
    reason: str | None  # None for a document; an ingest reason for a dropped "warc" record


def source_files(source: ReferenceSource) -> list[str]:
    """The files of a source, one Spark task each; a folder for "oscar_dummy" and "parquet".
    Raises InputError, for the driver to report before Spark starts, when nothing matches."""
    expand = inputs.expand if source.format == "warc" else inputs.expand_files
    try:
        if source.format in FOLDER_FORMATS and inputs.exists(source.path):
            return [source.path]
        return expand([source.path])
    except inputs.InputError:
        raise inputs.InputError(f"source {source.name}: nothing matches {source.path}") from None


def file_rows(source: ReferenceSource, path: str, ingest_cfg: IngestConfig) -> Iterator[FileRow]:
    """Every document of one file (and, for "warc", every record ingest drops)."""
    if source.format == "warc":
        for outcome in ingest.process_file(path, ingest_cfg):
            yield FileRow(path, outcome.id, outcome.text if outcome.reason is None else None, outcome.reason)
        return
    for doc in references.LOADERS[source.format](path, source.name):
        yield FileRow(path, doc.id, doc.text, None)


def format_summary(stats: list[dict], seconds: float, output: str) -> str:
    """The job's closing lines: one per source, with what its files gave."""
    lines = [f"corpus-pipeline import: {counted(len(stats), 'source')}, "
             f"{sum(s['documents'] for s in stats):,} documents in {seconds:.1f} s"]
    for s in stats:
        dropped = sum(s["dropped"].values())
        lines.append(f"  {s['name']:<16} {s['format']:<16} {s['files']:>5,} files {s['documents']:>8,} documents "
                     f"{s['chars']:>12,} chars" + (f"  ({dropped:,} records dropped)" if dropped else ""))
    lines.append(f"  output {output}/<name>/documents")
    return "\n".join(lines)
