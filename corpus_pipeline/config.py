"""Typed, frozen configuration loaded from YAML in `conf/`, validated before Spark starts.

A config file is a nested mapping whose keys match the dataclass fields below; `--set
a.b=value` overrides one field (the value is parsed as YAML). Unknown keys, wrong types
and impossible values are a `ConfigError` with a one-line message.
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from .errors import UserError


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class IngestConfig:
    # A record body above this is skipped (reason `oversize`) without being held in memory.
    # Common Crawl truncates payloads at 1 MiB, so 8 MiB only trims non-CC outliers.
    max_record_bytes: int = 8 * 1024 * 1024
    min_chars: int = 200  # extracted text shorter than this is dropped as `too_short`
    languages: tuple[str, ...] = ("en",)  # fastText lid.176 codes; empty keeps every language
    min_lang_score: float = 0.5  # top-language probability below this is dropped as `language`
    keep_truncated: bool = False  # records marked WARC-Truncated hold only part of the page
    # "blocks": Resiliparse main content + block classifier (corpus_pipeline.boilerplate);
    # "resiliparse": main content alone; "trafilatura": 6 to 11x slower (bench/README.md).
    extractor: str = "blocks"
    # Pages above either cap are dropped as `too_complex`, before any extraction: the
    # main-content pass costs (elements x depth), a second for 8,000 nested tags.
    max_html_chars: int = 4_000_000  # decoded HTML characters; CC payloads stop at 1 MiB
    max_html_depth: int = 512  # tag nesting depth; browsers stop at 512
    # Language ID reads at most this many leading characters, after a first look at 150
    # characters of the longest line, which settles most pages (corpus_pipeline.langid).
    # fastText's cost grows with the characters it reads.
    # Against 10,000 characters, 1,000 change the keep-English decision on 4 of 3,183 real
    # texts and 500 on 10 (python bench/langid_bench.py).
    lid_max_chars: int = 1_000

    def keeps_language(self, lang: str, score: float) -> bool:
        """Whether a text identified as `lang` with probability `score` passes the language check."""
        return not self.languages or (lang in self.languages and score >= self.min_lang_score)

    def validate(self):
        _require(self.max_record_bytes > 0, "ingest.max_record_bytes must be positive")
        _require(self.min_chars >= 0, "ingest.min_chars must be >= 0")
        _require(0.0 <= self.min_lang_score <= 1.0, "ingest.min_lang_score must be in [0, 1]")
        _require(self.extractor in ("blocks", "resiliparse", "trafilatura"),
                 f"ingest.extractor must be resiliparse or trafilatura or blocks (default), not {self.extractor!r}")
        _require(self.max_html_chars > 0 and self.max_html_depth > 0,
                 "ingest.max_html_chars and ingest.max_html_depth must be positive")
        _require(self.lid_max_chars > 0, "ingest.lid_max_chars must be positive")


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*]"  # used only when spark-submit did not set --master
    app_name: str = "corpus-pipeline"  # the application's name in Spark's UI and logs


@dataclass(frozen=True)
class QualityConfig:
    # Folder written by jobs/train_classifier.py; "" skips scoring and sampling.
    model: str = "models/quality"
    # GPT-3 keeps a document when pareto(alpha) > 1 - score, i.e. with probability
    # (2 - score)^-alpha: alpha = 9 keeps 1.0 at score 1, 0.026 at 0.5, 0.002 at 0.
    alpha: float = 9.0
    seed: int = 1234  # the uniform draw of each document is a hash of (seed, id)

    def validate(self):
        _require(self.alpha > 0, "quality.alpha must be positive")


def import_formats() -> list[str]:
    """What jobs/import_reference.py reads: a loader of corpus_pipeline.references, "warc"
    (the documents ingest keeps) or "parquet" (a folder with id and text)."""
    from .references import LOADERS

    return sorted([*LOADERS, "warc", "parquet"])


def _require_parquet(what: str, name: str, fmt: str, others: tuple[str, ...] = ()):
    """A reader stage's format check. Reference corpora enter once, through the import;
    every later stage reads its Parquet, so a raw format here says how to get it."""
    allowed = ("parquet", *others)
    _require(fmt in allowed or fmt not in import_formats(),
             f"{what} {name}: format {fmt} is read only by jobs/import_reference.py: import it first, then give "
             f"format parquet and path <import output>/{name}/documents")
    _require(fmt in allowed, f"{what} {name}: format must be {' or '.join(allowed)}, not {fmt!r}")


@dataclass(frozen=True)
class RulesConfig:
    """Gopher and C4 heuristic rules (corpus_pipeline.rules), decided on the tag columns.

    GPT-3 used none of them: each family is off by default. The thresholds are the
    defaults of datatrove 0.10.1 (FineWeb), which follow Gopher Appendix A and C4.
    A document fails a family at its first rule outside these bounds.
    """
    gopher_quality: bool = False  # drop documents that fail Gopher's quality rules
    gopher_repetition: bool = False  # ... Gopher's repetition rules
    c4: bool = False  # ... C4's document rules
    # Gopher quality (A.1.1). Words: tokens with a character other than punctuation.
    gopher_min_words: int = 50
    gopher_max_words: int = 100_000  # words
    gopher_min_mean_word_length: float = 3.0  # characters
    gopher_max_mean_word_length: float = 10.0  # characters
    gopher_max_symbol_word_ratio: float = 0.1  # "#", and "..." or "…", each per token
    gopher_max_bullet_line_ratio: float = 0.9  # lines starting with "•" or "-"
    gopher_max_ellipsis_line_ratio: float = 0.3  # lines ending with "..." or "…"
    gopher_min_alpha_word_ratio: float = 0.8  # tokens with an alphabetic character
    gopher_min_stop_words: int = 2  # of the, be, to, of, and, that, have, with
    # Gopher repetition (Table A1): duplicate lines and paragraphs as a fraction of their
    # count or of the text's characters, then the characters in the most frequent n-gram
    # (x its count) and in n-grams repeating an earlier one, over the text's characters.
    gopher_max_dup_line_frac: float = 0.30
    gopher_max_dup_para_frac: float = 0.30  # paragraphs equal to an earlier one, of all paragraphs
    gopher_max_dup_line_char_frac: float = 0.20  # their characters, of the text's
    gopher_max_dup_para_char_frac: float = 0.20  # their characters, of the text's
    gopher_max_top_2gram_frac: float = 0.20  # the most frequent 2-gram's characters x its count
    gopher_max_top_3gram_frac: float = 0.18  # ... 3-gram
    gopher_max_top_4gram_frac: float = 0.16  # ... 4-gram
    gopher_max_dup_5gram_frac: float = 0.15  # characters in 5-grams repeating an earlier one
    gopher_max_dup_6gram_frac: float = 0.14  # ... 6-grams
    gopher_max_dup_7gram_frac: float = 0.13  # ... 7-grams
    gopher_max_dup_8gram_frac: float = 0.12  # ... 8-grams
    gopher_max_dup_9gram_frac: float = 0.11  # ... 9-grams
    gopher_max_dup_10gram_frac: float = 0.10  # ... 10-grams
    # C4 (Raffel et al. 2020): sentences left on the lines C4's line rules keep (lines
    # ending in terminal punctuation, of 3 words or more, without "javascript" or a
    # cookie/terms-of-use phrase; fixed at tag time); "lorem ipsum" or "{" on such a line.
    c4_min_sentences: int = 5
    c4_drop_lorem_ipsum: bool = True  # "lorem ipsum" on a kept line fails the page
    c4_drop_curly_bracket: bool = True  # "{" on a kept line fails the page

    def validate(self):
        fractions = [f.name for f in dataclasses.fields(self) if f.name.endswith(("_ratio", "_frac"))]
        for name in fractions:
            _require(0.0 <= getattr(self, name) <= 1.0, f"rules.{name} must be in [0, 1]")
        _require(0 <= self.gopher_min_words <= self.gopher_max_words,
                 "rules.gopher_min_words must be >= 0 and <= rules.gopher_max_words")
        _require(0 <= self.gopher_min_mean_word_length <= self.gopher_max_mean_word_length,
                 "rules.gopher_min_mean_word_length must be >= 0 and <= rules.gopher_max_mean_word_length")
        _require(self.gopher_min_stop_words >= 0 and self.c4_min_sentences >= 0,
                 "rules.gopher_min_stop_words and rules.c4_min_sentences must be >= 0")


@dataclass(frozen=True)
class ReferenceSource:
    name: str  # names the source in outputs and stats (and the import's folder)
    # "parquet" (a folder with id and text, e.g. an import's <output>/<name>/documents) for
    # dedup references and training; jobs/import_reference.py also reads the raw formats.
    format: str
    path: str  # file, folder or glob
    max_docs: int = 0  # training only: 0 keeps all; otherwise a seeded, hash-ordered subset

    def validate(self, raw: bool = False):
        """raw: the import's check (any format it reads); otherwise Parquet only."""
        _require(bool(self.name) and bool(self.path), "each source needs a name and a path")
        if raw:
            formats = import_formats()
            _require(self.format in formats, f"source {self.name}: format must be one of {', '.join(formats)}")
        else:
            _require_parquet("source", self.name, self.format)
        _require(self.max_docs >= 0, f"source {self.name}: max_docs must be >= 0")


@dataclass(frozen=True)
class DedupConfig:
    enabled: bool = True  # false skips fuzzy dedup
    # "bands": MinHash over word n-grams with LSH banding and exact verification (scales);
    # "spark_minhashlsh": GPT-3's Spark ML MinHashLSH over unigram HashingTF features.
    mode: str = "bands"
    num_hashes: int = 10  # GPT-3: "MinHashLSH implementation with 10 hashes"
    # 10 hashes as 5 bands of 2 rows: a pair of Jaccard J becomes a candidate with
    # probability 1 - (1 - J^2)^5: 0.99 at J = 0.8, 0.76 at 0.5, 0.10 at 0.15 (docs/dedup.md).
    bands: int = 5
    rows: int = 2  # rows per band: bands x rows must equal num_hashes
    ngram: int = 5  # shingle = 5 consecutive lower-cased words (at most, with adapt_ngram)
    # Replacing one word of a text of S n-word shingles gives J = (S - n) / (S + n): with
    # 5-grams under 0.8 below 49 words. true (mode bands): a text of W words uses the largest
    # n <= ngram that keeps J >= jaccard_threshold for one replaced word (0.8: 5 from 49
    # words, 4 from 39, 3 from 29, 2 from 19, else 1), and a pair is compared at its shorter
    # text's n (docs/dedup.md). false: ngram for every text.
    adapt_ngram: bool = True
    jaccard_threshold: float = 0.8  # verified pairs at or above this are duplicates
    max_bucket: int = 50  # buckets above this are linked as stars to their smallest member
    num_features: int = 1 << 18  # HashingTF buckets for mode spark_minhashlsh
    seed: int = 7  # seeds the MinHash permutations
    max_iterations: int = 100  # connected-components rounds (one per hop of a cluster's diameter)
    # Datasets whose near-duplicates are removed from ours (e.g. WebText); never removed.
    # Parquet folders with id and text (format parquet), e.g. jobs/import_reference.py outputs.
    references: tuple[ReferenceSource, ...] = ()

    def validate(self):
        _require(self.mode in ("bands", "spark_minhashlsh"), "dedup.mode must be bands or spark_minhashlsh")
        _require(self.bands * self.rows == self.num_hashes, "dedup.bands * dedup.rows must equal dedup.num_hashes")
        _require(0 < self.jaccard_threshold <= 1, "dedup.jaccard_threshold must be in (0, 1]")
        _require(self.ngram > 0 and self.max_bucket > 1, "dedup.ngram must be > 0 and dedup.max_bucket > 1")
        for source in self.references:
            source.validate()


@dataclass(frozen=True)
class RepeatedLinesConfig:
    # After dedup: a line that several documents of the run hold stays only in one of them
    # (corpus_pipeline.lines); a document left under ingest.min_chars is `repeated_lines`.
    enabled: bool = True  # false keeps every line


@dataclass(frozen=True)
class DedupJobConfig:
    input: tuple[str, ...] = ()  # Parquet folders with at least id and text
    output: str = "output/dedup"  # the job's output folder
    dedup: DedupConfig = field(default_factory=DedupConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.input) > 0, "input: at least one Parquet folder is needed")
        self.dedup.validate()


@dataclass(frozen=True)
class TrainConfig:
    positives: tuple[ReferenceSource, ...] = ()
    negatives: tuple[ReferenceSource, ...] = ()
    # Not models/quality: a retrained model replaces the shipped one only when asked to.
    output: str = "output/quality-model"
    # Spark ML HashingTF buckets (words and bigrams share them).
    num_features: int = 1 << 18
    # Scale each text's term counts to unit L2 norm before the regression, so that the
    # score does not grow with length (docs/quality.md). false gives GPT-3's plain
    # Tokenizer -> HashingTF -> LogisticRegression.
    normalize: bool = True
    # 1: Tokenizer's words only (GPT-3); 2: words and word bigrams (Spark ML NGram), which
    # read phrasing where single words read mostly topic.
    ngram: int = 1
    # Train on passages, not whole documents: each document is cut into consecutive runs of
    # words whose lengths are drawn uniformly from [passage_min_words, passage_max_words]
    # (a hash of seed, id and place), so every source gives texts of one length range and
    # length cannot tell the classes apart. 0 trains on whole documents.
    passage_min_words: int = 0
    passage_max_words: int = 0
    # At most this many training passages per source (a seeded hash order), so that each
    # source weighs alike within its class; 0 keeps all.
    max_passages_per_source: int = 0
    reg_param: float = 1e-6  # L2 strength (Spark's: mean loss + reg_param / 2 * |w|^2)
    max_iter: int = 100  # L-BFGS iterations at most
    validation_fraction: float = 0.2  # by document, from a hash of (seed, id)
    seed: int = 42  # seeds the validation split and the per-source caps
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(bool(self.positives) and bool(self.negatives), "positives and negatives must both be listed")
        for source in self.positives + self.negatives:
            source.validate()
        names = [s.name for s in self.positives + self.negatives]
        _require(len(set(names)) == len(names), "source names must be unique")
        _require(0 < self.validation_fraction < 1, "validation_fraction must be in (0, 1)")
        _require(self.num_features > 0 and self.max_iter > 0, "num_features and max_iter must be positive")
        _require(self.ngram in (1, 2), "ngram must be 1 (words) or 2 (words and bigrams)")
        _require(0 <= self.passage_min_words <= self.passage_max_words
                 and (self.passage_min_words > 0) == (self.passage_max_words > 0),
                 "passage_min_words and passage_max_words: both 0, or 1 <= min <= max")
        _require(self.max_passages_per_source >= 0, "max_passages_per_source must be >= 0")


@dataclass(frozen=True)
class ImportConfig:
    """jobs/import_reference.py: reference corpora in their own formats -> Parquet documents."""
    # Each is written to <output>/<name>/. Ids hash the source name (references.doc_id):
    # a corpus read under two names is two imports with different ids.
    sources: tuple[ReferenceSource, ...] = ()
    output: str = "output/import"  # the job's output folder: one subfolder per source
    ingest: IngestConfig = field(default_factory=IngestConfig)  # for "warc" sources
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.sources) > 0, "sources: at least one is needed")
        _require(bool(self.output), "output: a folder is needed")
        for source in self.sources:
            source.validate(raw=True)
            _require(re.fullmatch(r"[A-Za-z0-9_.-]+", source.name) is not None and source.name not in (".", ".."),
                     f"source {source.name!r}: a name is a folder name (letters, digits, _ . -)")
            _require(source.max_docs == 0,
                     f"source {source.name}: max_docs is a training setting; the import keeps all")
        names = [s.name for s in self.sources]
        _require(len(set(names)) == len(names), "source names must be unique")
        self.ingest.validate()


@dataclass(frozen=True)
class FilterConfig:
    # WARC/WET/ARC files, folders, globs, or manifests (text files listing one path a line).
    input: tuple[str, ...] = ("data/sample",)
    output: str = "output/filter"  # the job's output folder (documents/, dropped/, stats.json, report.html)
    # Prefix for relative paths in manifests, e.g. "s3a://commoncrawl/" for CC's warc.paths.
    input_prefix: str = ""
    # The stage store: each stage's output (ingest and tag per input file, committed one by
    # one; select, dedup, ... per run), so that a killed or scheduled run resumes where it
    # stopped and a changed setting re-runs only its stage and those after it; "" means
    # "<output>.shards" beside the output.
    shards: str = ""
    resume: bool = True  # false redoes every stage
    # Input files per Spark job (and commit); 0 = 4 x the cluster's default parallelism.
    # Smaller loses less work when the driver dies; larger wastes less time on stragglers.
    files_per_commit: int = 0
    # A file larger than this is read as byte ranges of about this size, one Spark task each
    # (docs/splitting.md); 0 = only when a batch has fewer files than twice the cores, so
    # that one large WARC uses every core while a crawl's many files are read whole.
    split_mb: int = 0
    progress_every_s: float = 30.0  # seconds between progress lines in the driver log
    ingest: IngestConfig = field(default_factory=IngestConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    # Gopher and C4 rules, decided by the select stage on tags computed for every document.
    rules: RulesConfig = field(default_factory=RulesConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    repeated_lines: RepeatedLinesConfig = field(default_factory=RepeatedLinesConfig)
    # After dedup, when benchmarks are listed (conf/decontam.yaml lists the shared ones).
    decontam: DecontamConfig = field(default_factory=lambda: DecontamConfig())
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.input) > 0, "input: at least one path is needed")
        _require(bool(self.output), "output: a folder is needed")
        _require(self.files_per_commit >= 0, "files_per_commit must be >= 0")
        _require(self.split_mb >= 0, "split_mb must be >= 0")
        _require(self.progress_every_s > 0, "progress_every_s must be positive")
        self.ingest.validate()
        self.quality.validate()
        self.rules.validate()
        self.dedup.validate()
        self.decontam.validate()


@dataclass(frozen=True)
class MixDataset:
    """One dataset of a training mixture (GPT-3 Table 2.2 row)."""
    name: str  # names the dataset in the mixture and its manifest
    # "filter": a jobs/filter.py output folder (its documents/ Parquet); "parquet": a folder
    # with id and text, e.g. a reference corpus imported by jobs/import_reference.py
    # (<output>/<name>/documents).
    format: str = "filter"
    path: str = ""  # may stay empty for a plan without data (--dry-run)
    # Fraction of the budget's tokens drawn from this dataset. When both weight and epochs
    # are given, weight wins and epochs is only checked against weight x budget / tokens.
    weight: float = 0.0  # 0 = not given
    epochs: float = 0.0  # epochs elapsed at the budget; 0 = not given; alone, sets weight
    tokens: int = 0  # declared tokens available (the plan's input); a build measures them

    def validate(self):
        _require(bool(self.name), "mix dataset: name is needed")
        _require(self.weight >= 0 and self.epochs >= 0, f"dataset {self.name}: weight and epochs must be >= 0")
        _require(self.weight > 0 or self.epochs > 0, f"dataset {self.name}: give a weight or an epochs target")
        _require(self.tokens >= 0, f"dataset {self.name}: tokens must be >= 0")
        _require_parquet("dataset", self.name, self.format, others=("filter",))

    def documents(self) -> str:
        """The Parquet folder the dataset is read from: a filter run's documents/, or the path."""
        return f"{self.path.rstrip('/')}/documents" if self.format == "filter" else self.path


@dataclass(frozen=True)
class MixConfig:
    datasets: tuple[MixDataset, ...] = ()
    total_tokens: int = 0  # the budget: GPT-2 tokens of the whole mixture (300e9 in GPT-3)
    seed: int = 1234  # every draw and the final order are hashes of (seed, dataset, pass, id)
    # Weights summing to within this of 1 are normalised (divided by their sum) and flagged;
    # further off, the plan is refused. Five weights each rounded to a whole percent (as in
    # GPT-3's table, which sums to 1.01) can be off by up to 5 x 0.005 = 0.025.
    weight_sum_tolerance: float = 0.025
    # A declared epochs figure further than this (relative) from weight x budget / tokens is
    # flagged (weight still wins). 0.10 passes the paper's CC and books (<= 5% off) and
    # flags WebText2 (+19%, beyond any rounding) and Wikipedia (-13%: "3B" may be 2.65B).
    epochs_tolerance: float = 0.10
    # Draw order of a pass is cut into this many hash ranges (a power of two): prefix sums
    # of tokens are computed per range, so no task ever holds a whole dataset. One window
    # task sorts about (mixture text / order_buckets): 8192 for GPT-3's 300B tokens.
    order_buckets: int = 256
    # Output files = ceil(total_tokens / tokens_per_file), a fixed function of the config,
    # so reruns write the same files; positions are split evenly across them.
    tokens_per_file: int = 256_000_000
    output: str = "output/mix"  # the job's output folder (documents/ in training order, manifest.json)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.datasets) > 0, "datasets: at least one is needed")
        for dataset in self.datasets:
            dataset.validate()
        names = [d.name for d in self.datasets]
        _require(len(set(names)) == len(names), "dataset names must be unique")
        _require(self.total_tokens > 0, "total_tokens must be positive")
        _require(0 <= self.weight_sum_tolerance < 1, "weight_sum_tolerance must be in [0, 1)")
        _require(self.epochs_tolerance >= 0, "epochs_tolerance must be >= 0")
        _require(self.order_buckets > 0 and self.order_buckets & (self.order_buckets - 1) == 0,
                 "order_buckets must be a power of two")
        _require(self.tokens_per_file > 0, "tokens_per_file must be positive")


def _require(ok: bool, message: str):
    if not ok:
        raise ConfigError(message)


def load(cls, path: str | Path | None = None, overrides: typing.Sequence[str] = ()):
    """Build and validate a `cls` config from an optional YAML file and `key=value` overrides."""
    data = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping")
    for item in overrides:
        _apply_override(data, item)
    config = _build(cls, data, prefix="")
    config.validate()
    return config


def _apply_override(data: dict, item: str):
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {item!r}")
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part} is not a section")
    node[leaf] = yaml.safe_load(raw)


# Keys a config file may still set from an older version, and what to do instead.
REMOVED_KEYS = {"pack.device": "rows are cut on the CPU (0.3% of the stage's work); delete the line"}


def _build(cls, data, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    for name in unknown:
        if prefix + name in REMOVED_KEYS:
            raise ConfigError(f"config key {prefix}{name} was removed: {REMOVED_KEYS[prefix + name]}")
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(fields))})")
    values = {name: _coerce(hints[name], value, prefix + name) for name, value in data.items()}
    return cls(**values)


def _coerce(hint, value, name: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, prefix=name + ".")
    origin = typing.get_origin(hint)
    item_type = typing.get_args(hint)[0] if origin is tuple else None
    if dataclasses.is_dataclass(item_type):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list")
        return tuple(_build(item_type, item, prefix=f"{name}[{i}].") for i, item in enumerate(value))
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{name} must be a list of strings")
        return tuple(items)
    if hint is str and value is None:  # `--set key=` and `key:` in YAML mean an empty string
        return ""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{name} must be {hint.__name__}, got {value!r}")
    return value


def to_dict(config) -> dict:
    """Plain JSON data (tuples as lists), for writing the resolved config beside an output."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


@dataclass(frozen=True)
class BenchmarkSource:
    name: str  # e.g. "boolq_dev"; the Table C.1 report's row
    path: str  # one file (JSON lines or CSV)
    format: str = "jsonl"  # jsonl | csv
    # Where the text is (corpus_pipeline.decontam field specs): "passage", "question.stem",
    # "question.choices[].text" (each list item), "a+b" (joined by a space), "sentence|_=option1"
    # (the blank filled with field option1). Grams never span two units.
    text_fields: tuple[str, ...] = ()
    split: str = ""  # test or dev, for the report
    id_field: str = ""  # "" numbers the records from 0

    def validate(self):
        _require(bool(self.name) and bool(self.path), "decontam.benchmarks: each needs a name and a path")
        _require(self.format in ("jsonl", "csv"), f"benchmark {self.name}: format must be jsonl or csv")
        _require(len(self.text_fields) > 0, f"benchmark {self.name}: text_fields must list at least one field")


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True  # false skips decontamination
    n: int = 13  # GPT-3 Appendix C: 13-gram overlaps
    window_chars: int = 200  # removed on each side of a colliding gram
    min_piece_chars: int = 200  # pieces shorter than this are dropped too
    max_pieces: int = 10  # a document split into more pieces than this is dropped whole
    # Grams in more than this many distinct training documents (over the whole run) are
    # ignored as common phrases and boilerplate; they neither cut text nor make an example dirty.
    max_doc_frequency: int = 10
    piece_separator: str = "\n\n"  # the kept pieces of a modified document, rejoined
    benchmarks: tuple[BenchmarkSource, ...] = ()

    def validate(self):
        _require(self.n > 0, "decontam.n must be positive")
        _require(self.window_chars >= 0 and self.min_piece_chars >= 0,
                 "decontam.window_chars and decontam.min_piece_chars must be >= 0")
        _require(self.max_pieces >= 1 and self.max_doc_frequency >= 1,
                 "decontam.max_pieces and decontam.max_doc_frequency must be >= 1")
        names = [b.name for b in self.benchmarks]
        _require(len(set(names)) == len(names), "decontam.benchmarks: names must be unique")
        for benchmark in self.benchmarks:
            benchmark.validate()


@dataclass(frozen=True)
class DecontamJobConfig:
    input: tuple[str, ...] = ()  # Parquet folders with at least id and text (source optional)
    output: str = "output/decontam"  # the job's output folder
    dataset_column: str = "source"  # the per-dataset rows of the report; absent -> one row "all"
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.input) > 0, "input: at least one Parquet folder is needed")
        _require(len(self.decontam.benchmarks) > 0, "decontam.benchmarks: at least one benchmark is needed")
        self.decontam.validate()


@dataclass(frozen=True)
class PackConfig:
    seq_len: int = 2048  # GPT-3's n_ctx: every row is a full context
    # Rows of seq_len + 1 tokens (inputs plus the shifted target); consecutive rows share
    # one token, so every transition of the stream is trained exactly once.
    with_target: bool = False
    # The stream left after the last full row (< 1 row): "drop" keeps every row a real
    # full context (GPT-3); "pad" fills one more row with EOT. Counted in metadata.json.
    tail: str = "drop"
    # 16384 rows x 2048 tokens x 2 bytes = 64 MiB a shard: one shard is what a writer task holds.
    # With format megatron, each dataset holds the documents that start in such a stretch.
    rows_per_shard: int = 16384
    partitions: int = 0  # partitions of the ordered documents; 0 = spark.sql.shuffle.partitions
    # "gpt2" (GPT-2's BPE, offline) or the path of a Hugging Face tokenizer.json, read from a
    # local file (every executor must see it; the tokenizers library, extra [hf]).
    tokenizer: str = "gpt2"
    # The token appended after every document; it must be in the tokenizer's vocabulary.
    eot_token: str = "<|endoftext|>"
    # "shards": rows of seq_len (+1) tokens in shard files; "megatron": Megatron-LM .bin + .idx,
    # one sequence per document (seq_len, with_target and tail then do not apply).
    format: str = "shards"
    # The BPE engine, same ids either way: "cpu" (tokie, tiktoken where they may differ) or
    # "gpu" (GPT-2's BPE as array code, corpus_pipeline/array_bpe.py; gpt2 only).
    engine: str = "cpu"
    # Where the gpu engine runs: "cuda" (CuPy, extra [gpu]; an error without a device),
    # "cpu" (NumPy: the same code, slower than the cpu engine), "auto" (cuda where usable).
    gpu_device: str = "auto"

    def validate(self):
        _require(1 <= self.seq_len <= 1 << 20, "pack.seq_len must be in [1, 1048576]")
        _require(self.tail in ("drop", "pad"), f"pack.tail must be drop or pad, not {self.tail!r}")
        _require(self.rows_per_shard >= 1, "pack.rows_per_shard must be >= 1")
        _require(self.partitions >= 0, "pack.partitions must be >= 0")
        _require(bool(self.tokenizer), "pack.tokenizer: gpt2, or the path of a tokenizer.json")
        _require(self.format in ("shards", "megatron"), f"pack.format must be shards or megatron, not {self.format!r}")
        _require(self.engine in ("cpu", "gpu"), f"pack.engine must be cpu or gpu, not {self.engine!r}")
        _require(self.gpu_device in ("auto", "cuda", "cpu"), f"pack.gpu_device must be auto, cuda or cpu, not {self.gpu_device!r}")
        _require(self.engine == "cpu" or self.tokenizer == "gpt2",
                 "pack.engine: gpu runs GPT-2's BPE only; a tokenizer.json needs pack.engine: cpu")


@dataclass(frozen=True)
class PackJobConfig:
    input: tuple[str, ...] = ()  # Parquet folders with a text column (and `position`, if a mixture)
    output: str = "output/pack"  # the job's output folder (token shards and metadata.json)
    pack: PackConfig = field(default_factory=PackConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)

    def validate(self):
        _require(len(self.input) > 0, "input: at least one Parquet folder is needed")
        _require(bool(self.output), "output: a folder is needed")
        self.pack.validate()
