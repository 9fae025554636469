"""Tokenize and pack on Spark: Parquet documents in mixture order -> token shards (GPT-3 Appendix B).

Consumes Parquet with `text` and, for a mixture (issue 5), `position` (long, the global
document order); without `position`, documents are ordered by (input file path, row in
the file). Empty texts are skipped and counted. Produces the shards and metadata of
corpus_pipeline.pack, byte-identical to `pack_texts` on the same ordered texts, under any
partitioning; nothing proportional to the corpus ever reaches the driver:
1. documents are put in order: a mixture whose files hold sorted, disjoint position ranges
   (what jobs/mix.py writes) is read by the tasks row group by row group, any other input
   is range-partitioned and sorted by its order key; the executors tokenize them (one
   tokenizer per worker process) into Chunks of numpy arrays, which are persisted;
2. each partition's first and last key, document, token and empty-text counts come to the
   driver (five numbers a partition); their prefix sums give every partition its first document
   index and its stream offset;
3. every chunk is cut into pieces at shard boundaries, keyed by shard; one task per
   shard joins its pieces (so fragments at partition boundaries meet there), cuts the rows
   and writes the shard file;
4. documents/ (one row per document: index, order key, stream offset, token count, shard)
   is written, and the per-shard document counts and the input fingerprint are read back
   from it, not from accumulators.
"""
from __future__ import annotations

import functools
import operator
import uuid
from typing import Iterator, NamedTuple

import numpy as np
from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .. import gpt2, pack, tokenizer
from ..config import PackConfig
from .output import hadoop_fs
from ..errors import UserError

POSITION = "position"
FILE_ORDER = ("source_file", "source_row")
INTEGRAL = ("tinyint", "smallint", "int", "bigint")


class PackInputError(UserError, ValueError):
    """The input cannot be packed as asked; the message is for the user."""


def ordered_documents(spark, paths) -> tuple:
    """(frame of order key columns, id, text; key column names). Empty texts stay in: the
    tokenize tasks skip and count them, which spares a pass over the corpus to count them."""
    refuse_mixture_folders(spark, paths)
    frame = spark.read.parquet(*paths)
    if "text" not in frame.columns:
        raise PackInputError(f"input has no text column (columns: {', '.join(frame.columns)})")
    if POSITION in frame.columns:
        if dict(frame.dtypes)[POSITION] not in INTEGRAL:
            raise PackInputError(f"column {POSITION} must be an integer, not {dict(frame.dtypes)[POSITION]}")
        keys = [F.col(POSITION).cast("long").alias(POSITION)]
    else:  # Parquet's own row numbers: stable under any split of the files into partitions
        keys = [F.col("_metadata.file_path").alias(FILE_ORDER[0]), F.col("_metadata.row_index").alias(FILE_ORDER[1])]
    ident = F.col("id").cast("string") if "id" in frame.columns else F.lit(None).cast("string")
    names = [POSITION] if POSITION in frame.columns else list(FILE_ORDER)
    return frame.select(*keys, ident.alias("id"), "text"), names


def refuse_mixture_folders(spark, paths):
    """A mixture's output folder holds manifest.json beside documents/; Spark would fail to
    read the JSON as Parquet, with a stack trace instead of the way out."""
    for path in paths:
        folder = str(path).rstrip("/")
        fs, Path = hadoop_fs(spark, folder)
        if fs.exists(Path(f"{folder}/manifest.json")) and fs.exists(Path(f"{folder}/documents")):
            raise PackInputError(f"{folder} is a mixture's output folder; pass its documents: {folder}/documents")


class Chunk(NamedTuple):
    """Consecutive non-empty documents of one sorted partition, tokenized: what is persisted.
    A few large records a partition instead of one a document, so that the passes over
    them (summary, shard pieces, documents/) cost per chunk, not per document."""
    keys: list  # order key tuples
    ids: list  # id strings (or None)
    lengths: np.ndarray  # int64: each document's tokens, its EOT included
    tokens: np.ndarray  # uint16: the documents' tokens with their EOTs, concatenated
    digests: bytes  # TEXT_DIGEST bytes a document (pack.text_digest)
    empty: int  # empty texts met (and skipped) before the end of this chunk


CHUNK_TOKENS = 1 << 22  # 8 MiB of tokens a chunk: a tokenize task holds about twice that
TEXT_DIGEST = 16  # bytes of pack.text_digest


def tokenized_chunks(rows, chunk_tokens: int = CHUNK_TOKENS, vocabulary: tuple = (tokenizer.GPT2, gpt2.EOT_TEXT)
                     ) -> Iterator[Chunk]:
    """Chunks of (key..., id, text) rows in their order; empty texts are counted, not kept.
    `vocabulary` is (pack.tokenizer, pack.eot_token, pack.engine, pack.gpu_device): each
    worker process loads it once."""
    tok = tokenizer.load(*vocabulary)
    keys, ids, parts, digests, empty, size = [], [], [], [], 0, 0
    for batch in pack.batches(rows, tok.batch_chars, text_of=lambda row: row[-1]):
        kept = [row for row in batch if row[-1]]  # a bare EOT would only teach EOT -> EOT
        for (*key, ident, text), token_ids in zip(kept, tok.encode_many([row[-1] for row in kept])):
            tokens = pack.with_eot(token_ids, tok)
            keys.append(tuple(key))
            ids.append(ident)
            parts.append(tokens)
            digests.append(pack.text_digest(text))
            size += len(tokens)
            if size >= chunk_tokens:
                yield _chunk(keys, ids, parts, digests, empty, tok.dtype)
                keys, ids, parts, digests, empty, size = [], [], [], [], 0, 0
        empty += len(batch) - len(kept)
    if keys or empty:
        yield _chunk(keys, ids, parts, digests, empty, tok.dtype)


def _chunk(keys, ids, parts, digests, empty, dtype) -> Chunk:
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    tokens = np.concatenate(parts) if parts else np.empty(0, dtype)
    return Chunk(keys, ids, lengths, tokens, b"".join(digests), empty)


def sorted_tokens(docs, key_names: list[str], partitions: int, vocabulary: tuple):
    """RDD of Chunks in global key order (partition by partition, chunk by chunk)."""
    ordered = (docs.repartitionByRange(partitions, *key_names).sortWithinPartitions(*key_names)
               if partitions else docs.orderBy(*key_names))
    return ordered.rdd.mapPartitions(lambda rows: tokenized_chunks(rows, vocabulary=vocabulary),
                                     preservesPartitioning=True)


class RowGroup(NamedTuple):
    """One Parquet row group of a mixture: where it is, its size, and its first and last position."""
    file: str
    index: int
    size: int  # bytes, uncompressed: what balances the tasks
    first: int
    last: int


def presorted_runs(spark, docs, key_names: list[str], partitions: int) -> list[list[RowGroup]] | None:
    """Runs of row groups, one a task, in position order, where the input needs no sort: a
    mixture's files (issue 5) each hold a range of positions, sorted. Found from the
    position column alone (8 bytes a document); None where any row group is unsorted, holds
    a null, or overlaps another, or a column is not as the fast reader expects: then Spark
    sorts, and says what is wrong with the order."""
    files = docs.inputFiles()
    if key_names != [POSITION] or not files:
        return None
    summaries = spark.sparkContext.parallelize(files, min(len(files), 1024)).flatMap(row_group_summaries).collect()
    if not summaries or any(s is None for s in summaries):
        return None
    groups = sorted((s for s in summaries if s.size), key=lambda g: g.first)
    if any(a.last >= b.first for a, b in zip(groups, groups[1:])):
        return None
    return balanced_runs(groups, partitions or max(spark.sparkContext.defaultParallelism,
                                                   -(-sum(g.size for g in groups) // TASK_BYTES)))


TASK_BYTES = 128 << 20  # as spark.sql.files.maxPartitionBytes: text a tokenize task reads


def row_group_summaries(uri: str) -> list[RowGroup | None]:
    """RowGroups of one file (size 0 for an empty one), or [None] where it cannot take the fast path."""
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    with _open(uri) as handle:
        parquet = pq.ParquetFile(handle)
        schema = parquet.schema_arrow
        names = set(schema.names)
        if ("text" not in names or not _is_string(schema.field("text").type) or POSITION not in names
                or not pat.is_integer(schema.field(POSITION).type) or ("id" in names and not _is_string(schema.field("id").type))):
            return [None]
        groups = []
        for index in range(parquet.num_row_groups):
            column = parquet.read_row_group(index, columns=[POSITION]).column(0)
            if column.null_count:
                return [None]
            positions = column.to_numpy().astype(np.int64)
            if not (np.diff(positions) > 0).all():
                return [None]
            size = parquet.metadata.row_group(index).total_byte_size
            groups.append(RowGroup(uri, index, size, int(positions[0]), int(positions[-1])) if len(positions)
                          else RowGroup(uri, index, 0, 0, 0))
        return groups


def _is_string(arrow_type) -> bool:
    import pyarrow.types as pat

    return pat.is_string(arrow_type) or pat.is_large_string(arrow_type)


def _open(uri: str):
    """A file an executor reads, from the URI Spark listed (percent-encoded)."""
    import urllib.parse

    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    return fs.open(urllib.parse.unquote(path), "rb")


def balanced_runs(groups: list[RowGroup], tasks: int) -> list[list[RowGroup]]:
    """`groups` cut, in order, into at most `tasks` runs of about equal size."""
    total, runs, at = sum(g.size for g in groups), [[]], 0
    for group in groups:
        if runs[-1] and at >= total * len(runs) / tasks:
            runs.append([])
        runs[-1].append(group)
        at += group.size
    return runs


def presorted_tokens(spark, runs: list[list[RowGroup]], vocabulary: tuple):
    """RDD of Chunks in position order: task i reads run i with pyarrow, no shuffle, no sort."""
    return spark.sparkContext.parallelize(runs, len(runs)).mapPartitions(
        lambda tasks: tokenized_chunks((row for run in tasks for row in mixture_rows(run)), vocabulary=vocabulary))


def mixture_rows(run: list[RowGroup]) -> Iterator[tuple]:
    """(position, id, text) of each row of the run's row groups, in order."""
    import pyarrow.parquet as pq

    for group in run:
        with _open(group.file) as handle:
            parquet = pq.ParquetFile(handle)
            columns = [POSITION, "id", "text"] if "id" in parquet.schema_arrow.names else [POSITION, "text"]
            for batch in parquet.iter_batches(batch_size=1024, row_groups=[group.index], columns=columns):
                values = [c.to_pylist() for c in batch.columns]
                if len(values) == 2:
                    values.insert(1, [None] * batch.num_rows)
                yield from zip(*values)


def partition_offsets(tokens) -> tuple[dict[int, tuple[int, int]], int, int, int]:
    """{partition: (first document index, first stream offset)}, documents, stream tokens,
    empty texts; raises where the order key is null or not unique (the order would be
    undefined)."""
    def summary(index, chunks):
        docs = total = empty = 0
        first = last = problem = None
        for chunk in chunks:
            docs, total, empty = docs + len(chunk.keys), total + len(chunk.tokens), empty + chunk.empty
            for key in chunk.keys:
                if None in key:
                    problem = problem or "a document has a null order key"
                    continue
                if last is not None and key <= last:
                    problem = problem or f"order key {key} is not unique"
                first, last = first if first is not None else key, key
        yield index, docs, total, empty, first, last, problem

    parts = sorted(tokens.mapPartitionsWithIndex(summary).collect())
    offsets, docs, total, empty, last = {}, 0, 0, 0, None
    for index, n_docs, n_tokens, n_empty, first_key, last_key, problem in parts:
        if n_docs and last is not None and first_key <= last:
            problem = problem or f"order key {first_key} is not unique"
        if problem:  # raised here, not in the task, so that the user sees one line
            raise PackInputError(problem)
        offsets[index] = (docs, total)
        docs, total, empty = docs + n_docs, total + n_tokens, empty + n_empty
        last = last_key if n_docs else last
    return offsets, docs, total, empty


def shard_pieces(tokens, offsets, plan: pack.Plan):
    """(shard, (offset in the shard's span, token bytes)): each chunk cut at shard boundaries."""
    def pieces(index, chunks):
        at = offsets[index][1]
        for chunk in chunks:
            yield from pack.stream_pieces(chunk.tokens, at, plan)
            at += len(chunk.tokens)

    return tokens.mapPartitionsWithIndex(pieces)


def write_shards(pieces, plan: pack.Plan, folder: str) -> list[dict]:
    """One task per shard: join its pieces, cut rows, write."""
    if plan.shards == 0:
        return []

    def write(shard, items):
        start, stop = plan.shard_span(shard)
        span = pack.join_chunks((piece for _, piece in items), stop - start, plan.dtype)
        data = pack.shard_bytes(plan, shard, span)
        _write_file(folder, pack.shard_name(shard), data)
        yield pack.shard_record(plan, shard, data)

    records = pieces.partitionBy(plan.shards, lambda shard: shard).mapPartitionsWithIndex(write).collect()
    _remove_scratch(folder)
    return sorted(records, key=lambda r: r["file"])


def megatron_pieces(tokens, offsets, plan: pack.Plan):
    """(dataset, (stream offset, first document index, token bytes, int64 length bytes)):
    each chunk's documents grouped by the dataset their first token falls in."""
    def pieces(index, chunks):
        doc, at = offsets[index]
        for chunk in chunks:
            starts = np.cumsum(chunk.lengths) - chunk.lengths
            homes = (at + starts) // plan.shard_stride
            for dataset in np.unique(homes).tolist():
                first, last = np.searchsorted(homes, [dataset, dataset + 1])
                begin, end = int(starts[first]), int(starts[last - 1] + chunk.lengths[last - 1])
                yield dataset, (at + begin, doc + int(first), chunk.tokens[begin:end].tobytes(),
                                chunk.lengths[first:last].tobytes())
            doc, at = doc + len(chunk.lengths), at + len(chunk.tokens)

    return tokens.mapPartitionsWithIndex(pieces)


def write_megatron(pieces, plan: pack.Plan, folder: str) -> list[dict]:
    """One task per dataset: its pieces, in stream order, must follow each other exactly."""
    if plan.shards == 0:
        return []

    def write(dataset, items):
        parts = sorted((piece for _, piece in items), key=lambda p: p[0])
        if not parts:
            return
        at = parts[0][0]
        for offset, _, data, _ in parts:
            if offset != at:
                raise RuntimeError(f"dataset {dataset} broken at stream token {at}: next piece starts at {offset}")
            at += len(data) // np.dtype(plan.dtype).itemsize
        tokens = np.frombuffer(b"".join(p[2] for p in parts), plan.dtype)
        lengths = np.frombuffer(b"".join(p[3] for p in parts), np.int64)
        data, index, record = pack.megatron_files(plan, dataset, tokens, lengths, parts[0][1])
        _write_file(folder, record["prefix"] + ".bin", data)
        _write_file(folder, record["prefix"] + ".idx", index)
        yield record

    records = pieces.partitionBy(plan.shards, lambda dataset: dataset).mapPartitionsWithIndex(write).collect()
    _remove_scratch(folder)
    return sorted(records, key=lambda r: r["prefix"])


def qualified(spark, path: str) -> str:
    """`path` as a full URI (file:/..., hdfs://...), so that executors open the same place
    the driver's Hadoop FileSystem does."""
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()).makeQualified(hadoop_path).toString()


def _write_file(folder: str, name: str, data: bytes):
    """Write beside, then rename: a retried or speculative task never leaves half a shard."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    scratch = f"{root}/.{name}.{uuid.uuid4().hex[:8]}"
    with fs.open(scratch, "wb") as stream:
        stream.write(data)
    fs.mv(scratch, f"{root}/{name}")


def _remove_scratch(folder: str):
    """Scratch files of task attempts that died between write and rename."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(folder)
    for path in fs.glob(f"{root}/.shard-*") + fs.glob(f"{root}/.megatron-*"):
        fs.rm(path)


def document_index(spark, tokens, offsets, plan: pack.Plan, key_names: list[str]):
    """documents/: one row per document, in stream order, for mapping rows back to sources."""
    def rows(index, chunks):
        doc, at = offsets[index]
        for chunk in chunks:
            starts = (at + np.cumsum(chunk.lengths) - chunk.lengths).tolist()
            for i, (key, ident, start, length) in enumerate(zip(chunk.keys, chunk.ids, starts, chunk.lengths.tolist())):
                digest = chunk.digests[i * TEXT_DIGEST:(i + 1) * TEXT_DIGEST]
                yield (doc, *key, ident, start, length, plan.home_shard(start), pack.document_hash(doc, digest))
                doc += 1
            at += len(chunk.tokens)

    key_fields = ([T.StructField(POSITION, T.LongType())] if key_names == [POSITION] else
                  [T.StructField(FILE_ORDER[0], T.StringType()), T.StructField(FILE_ORDER[1], T.LongType())])
    schema = T.StructType([T.StructField("doc_index", T.LongType()), *key_fields,
                           T.StructField("id", T.StringType()), T.StructField("token_start", T.LongType()),
                           T.StructField("tokens", T.LongType()), T.StructField("shard", T.IntegerType()),
                           T.StructField("doc_hash", T.LongType())])
    # The rows are built to the schema above (Python ints and strings); checking each
    # field of each row in Python cost more than tokenizing short documents.
    return spark.createDataFrame(tokens.mapPartitionsWithIndex(rows), schema, verifySchema=False)


def shard_document_counts(documents, plan: pack.Plan) -> tuple[dict[int, int], set[int], int, int]:
    """(documents starting per shard, shards starting with a document, documents in a dropped
    tail, XOR of document hashes), read from the written documents/."""
    at_start = (F.col("token_start") % F.lit(plan.shard_stride) == 0).cast("int")
    per_shard = documents.groupBy("shard").agg(F.count("*").alias("n"), F.max(at_start).alias("boundary"),
                                               F.bit_xor("doc_hash").alias("xor")).collect()
    starts = {r["shard"]: r["n"] for r in per_shard if r["shard"] is not None}
    boundary = {r["shard"] for r in per_shard if r["shard"] is not None and r["boundary"]}
    dropped = sum(r["n"] for r in per_shard if r["shard"] is None)
    xor = functools.reduce(operator.xor, (r["xor"] for r in per_shard), 0)  # XOR of the shards' XORs
    return starts, boundary, dropped, xor


def pack_documents(spark, paths, cfg: PackConfig, out) -> dict:
    """Writes shards (or Megatron datasets), documents/ and returns metadata for `out` (an AtomicOutput)."""
    vocabulary = (cfg.tokenizer, cfg.eot_token, cfg.engine, cfg.gpu_device)
    tok = tokenizer.load(cfg.tokenizer, cfg.eot_token)  # on the driver too: a bad path or token stops the job here
    docs, key_names = ordered_documents(spark, paths)
    runs = presorted_runs(spark, docs, key_names, cfg.partitions)
    tokens = (presorted_tokens(spark, runs, vocabulary) if runs
              else sorted_tokens(docs, key_names, cfg.partitions, vocabulary))
    tokens.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        offsets, n_docs, total, empty = partition_offsets(tokens)
        folder = qualified(spark, out.tmp)
        if cfg.format == "megatron":
            plan = pack.megatron_plan(cfg.seq_len, cfg.rows_per_shard, total, tok)
            records = write_megatron(megatron_pieces(tokens, offsets, plan), plan, folder)
        else:
            plan = pack.Plan(cfg.seq_len, cfg.with_target, cfg.rows_per_shard, cfg.tail, total, tok.dtype.str, tok.eot)
            records = write_shards(shard_pieces(tokens, offsets, plan), plan, folder)
        document_index(spark, tokens, offsets, plan, key_names).write.parquet(out.path("documents"))
    finally:
        tokens.unpersist()
    starts, boundary, dropped, xor = shard_document_counts(spark.read.parquet(out.path("documents")), plan)
    order = POSITION if key_names == [POSITION] else "input file path, row in file"
    if cfg.format == "megatron":
        return pack.megatron_metadata(plan, records, n_docs, xor, {"empty_documents": empty, "order": order}, tok)
    pack.add_document_counts(records, starts, boundary)
    return pack.metadata(plan, records, n_docs, xor,
                         {"empty_documents": empty, "documents_dropped": dropped, "order": order}, tok)


def pack_job(spark, cfg) -> dict:
    """jobs/pack.py: shards, metadata.json, documents/ and stats.json, written atomically."""
    import json
    import time

    from .. import code_version, config
    from .output import AtomicOutput

    started = time.time()
    with AtomicOutput(spark, cfg.output) as out:
        meta = pack_documents(spark, list(cfg.input), cfg.pack, out)
        meta.update(inputs=list(cfg.input), code_version=code_version())
        out.write_text("metadata.json", json.dumps(meta, indent=2) + "\n")
        out.write_text("config.json", json.dumps(config.to_dict(cfg), indent=2) + "\n")
        if cfg.pack.format == "megatron":
            summary = {k: meta[k] for k in ("documents", "empty_documents", "stream_tokens")}
            summary.update(datasets=len(meta["datasets"]))
        else:
            summary = {k: meta[k] for k in ("documents", "empty_documents", "documents_dropped", "stream_tokens",
                                             "rows", "tail_tokens", "pad_tokens", "dropped_tokens")}
            summary.update(shards=len(meta["shards"]))
        summary.update(seconds=round(time.time() - started, 1), code_version=meta["code_version"])
        out.write_text("stats.json", json.dumps(summary, indent=2) + "\n")
    return summary
