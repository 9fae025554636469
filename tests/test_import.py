"""Importing reference corpora (jobs/import_reference.py): one Parquet schema for every
format, the loaders' own ids and texts, every input file accounted for, loud failures; and
mixtures and dedup references that work from the import alone, the raw files gone."""
from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from corpus_pipeline import config, imports, ingest, inputs
from corpus_pipeline.spark.imports import ImportSourceError, import_sources
from corpus_pipeline.spark.mix import build_mixture

from .conftest import REPO, SAMPLE, shared_file

# Source name in conf/import/shared.yaml: (format, file under ../shared/data, documents).
SHARED = {
    "webtext": ("jsonl", "positives/webtext/webtext.valid.trunc63tok.jsonl", 4724),
    "cc_dolma": ("jsonl", "cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz", 670),
    "wikipedia": ("mediawiki_xml",
                  "positives/wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2", 106),
    "wikitext": ("wikitext_tokens", "positives/wikipedia/wikitext-2_valid.tokens.txt", 60),
    "books": ("gutenberg", "positives/books/*.txt", 3846),
    "cc_warc": ("warc", "warc/cc", 94),  # the CC pages ingest keeps: 94 of the 6 files' 219 records
    "crawl_non_cc": ("warc", "warc/non_cc", 112),
    "web_wcxb": ("html", "web_html/wcxb-dev/html/*.html.gz", 663),  # the pages ingest keeps, of 704
    "web_cleaneval": ("html", "web_html/cleaneval/*/input/*.html", 630),  # of 639
}
RAW_HINT = "is read only by jobs/import_reference.py"


def shared_path(relative: str) -> str:
    """A file or glob under ../shared/data (the test skips where the folder above the first
    wildcard is absent)."""
    parts = relative.split("/")
    fixed = next((i for i, part in enumerate(parts) if "*" in part), len(parts))
    rest = "/".join(parts[fixed:])
    return f"{shared_file('/'.join(parts[:fixed]))}/{rest}" if rest else str(shared_file(relative))


def job_env():
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def imported(folder, name) -> list[tuple[str, str, str]]:
    """(id, source, text) rows of one import, sorted."""
    table = pq.read_table(folder / name / "documents")
    assert table.column_names == ["id", "source", "text"]
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names)))


def loaded(source: config.ReferenceSource) -> list[tuple[str, str, str]]:
    """What the loaders (or ingest, for warc) give for a source, read in plain Python."""
    rows = [(r.id, source.name, r.text) for path in imports.source_files(source)
            for r in imports.file_rows(source, path, config.IngestConfig()) if r.reason is None]
    return sorted(rows)


# ---- config: a raw format anywhere but the import is an error that names the import


@pytest.mark.parametrize("cls, override", [
    (config.MixConfig, 'datasets=[{name: web, format: jsonl, path: x.jsonl, weight: 1}]'),
    (config.TrainConfig, 'positives=[{name: web, format: gutenberg, path: "*.txt"}]'),
    (config.FilterConfig, 'dedup.references=[{name: web, format: warc, path: x.warc.gz}]'),
])
def test_raw_formats_outside_the_import_are_config_errors(cls, override):
    conf = {config.MixConfig: "mix/sample.yaml", config.TrainConfig: "quality.yaml"}.get(cls, "filter.yaml")
    with pytest.raises(config.ConfigError, match=RAW_HINT) as err:
        config.load(cls, REPO / "conf" / conf, [override])
    assert "web/documents" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("override, message", [
    ('sources=[{name: a/b, format: jsonl, path: x}]', "a name is a folder name"),
    ('sources=[{name: a, format: csv, path: x}]', "format must be one of gutenberg, html, jsonl"),
    ('sources=[{name: a, format: jsonl, path: x}, {name: a, format: warc, path: y}]', "names must be unique"),
    ('sources=[{name: a, format: jsonl, path: x, max_docs: 5}]', "max_docs is a training setting"),
    ('sources=[]', "at least one"),
])
def test_bad_import_configs(override, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(config.ImportConfig, REPO / "conf" / "import" / "sample.yaml", [override])


def test_source_files_one_task_each():
    books = config.ReferenceSource("books", "gutenberg", shared_path("positives/books/pg1*.txt"))
    assert [p.rsplit("/", 1)[1] for p in imports.source_files(books)] == [
        "pg1342_Pride-and-Prejudice.txt", "pg1400_Great-Expectations.txt", "pg145_Middlemarch.txt",
        "pg1497_The-Republic.txt", "pg158_Emma.txt", "pg1661_The-Adventures-of-Sherlock-Holmes.txt"]
    assert len(imports.source_files(config.ReferenceSource("crawl", "warc", str(SAMPLE)))) == 6
    with pytest.raises(inputs.InputError, match="source gone: nothing matches /nonexistent"):
        imports.source_files(config.ReferenceSource("gone", "jsonl", "/nonexistent/*.jsonl"))


# ---- the shared data, one source per format


@pytest.mark.parametrize("name", sorted(SHARED))
def test_import_holds_exactly_the_loaders_documents(shared_import, name):
    folder, stats = shared_import
    fmt, relative, count = SHARED[name]
    source = config.ReferenceSource(name, fmt, shared_path(relative))
    rows = imported(folder, name)
    assert len(rows) == count == stats[name]["documents"] == stats[name]["distinct_ids"]
    assert rows == loaded(source)  # same ids, same texts: mixtures and models built on them are unchanged
    assert stats[name]["format"] == fmt and stats[name]["chars"] == sum(len(text) for _, _, text in rows)
    assert sum(f["documents"] for f in stats[name]["by_file"]) == count
    assert json.loads((folder / name / "stats.json").read_text()) == stats[name]


def test_warc_import_accounts_for_every_record(shared_import):
    folder, stats = shared_import
    by_file = {f["path"]: f for f in stats["cc_warc"]["by_file"]}
    files = inputs.expand([str(shared_file("warc/cc"))])
    assert sorted(by_file) == sorted(files) and stats["cc_warc"]["files"] == 6
    for path in files:
        outcomes = collections.Counter(o.reason for o in ingest.process_file(path, config.IngestConfig()))
        assert by_file[path]["documents"] == outcomes.pop(None, 0)
        assert by_file[path]["dropped"] == dict(outcomes)
    assert sum(stats["cc_warc"]["dropped"].values()) == 125 and stats["cc_warc"]["ingest"]["min_chars"] == 200


def test_oscar_and_parquet_sources(spark, shared_import, tmp_path):
    """The two formats conf/import/shared.yaml does not use: OSCAR's archives, and a Parquet
    folder (here the WikiText import, imported again under another name: ids and texts kept)."""
    folder, stats = shared_import
    oscar = config.ReferenceSource("oscar", "oscar_dummy", str(shared_file("cc_text/oscar2019-hf-dummy")))
    again = config.ReferenceSource("wikitext_again", "parquet", str(folder / "wikitext" / "documents"))
    oscar_stats, again_stats = import_sources(spark, [oscar, again], config.IngestConfig(), str(tmp_path))
    assert oscar_stats["documents"] == 257 and imported(tmp_path, "oscar") == loaded(oscar)
    assert [(i, t) for i, _, t in imported(tmp_path, "wikitext_again")] == [
        (i, t) for i, _, t in imported(folder, "wikitext")]
    assert {s for _, s, _ in imported(tmp_path, "wikitext_again")} == {"wikitext_again"}
    assert again_stats["fingerprint"] == stats["wikitext"]["fingerprint"]
    assert again_stats["documents"] == 60 and again_stats["files"] >= 1


# ---- loud failures


def test_a_source_without_documents_fails_and_writes_nothing(spark, tmp_path):
    (tmp_path / "empty.jsonl").write_text('{"text": ""}\n{"text": "  "}\n')
    empty = config.ReferenceSource("empty", "jsonl", str(tmp_path / "empty.jsonl"))
    with pytest.raises(ImportSourceError, match=r"^source empty \(jsonl .*empty.jsonl\) yielded no document$"):
        import_sources(spark, [empty], config.IngestConfig(), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "empty").exists() and list((tmp_path / "out").iterdir()) == []


def test_two_files_with_one_key_space_fail(spark, tmp_path):
    for name in ("a.jsonl", "b.jsonl"):  # line 1 of each: one id
        (tmp_path / name).write_text('{"text": "the same first line"}\n')
    both = config.ReferenceSource("both", "jsonl", str(tmp_path / "*.jsonl"))
    with pytest.raises(ImportSourceError, match="1 documents repeat an id"):
        import_sources(spark, [both], config.IngestConfig(), str(tmp_path / "out"))


# ---- reading the import only: the raw files deleted


def test_mix_and_dedup_references_work_with_the_raw_files_absent(spark, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(shared_file(SHARED["webtext"][1]), raw / "webtext.jsonl")
    shutil.copy(shared_file("positives/books/pg1661_The-Adventures-of-Sherlock-Holmes.txt"), raw)
    for crawl in SAMPLE.glob("w*.warc.gz"):
        shutil.copy(crawl, raw)
    sources = [config.ReferenceSource("webtext", "jsonl", str(raw / "webtext.jsonl")),
               config.ReferenceSource("books", "gutenberg", str(raw / "pg*.txt")),
               config.ReferenceSource("other_crawls", "warc", str(raw / "w*.warc.gz"))]
    expected = {s.name: loaded(s) for s in sources}
    stats = {s["name"]: s for s in import_sources(spark, sources, config.IngestConfig(), str(tmp_path / "import"))}
    shutil.rmtree(raw)

    def documents(name):
        return str(tmp_path / "import" / name / "documents")

    # A mixture of the three imports.
    cfg = config.MixConfig(total_tokens=200_000, seed=5, output=str(tmp_path / "mix"), order_buckets=8, datasets=(
        config.MixDataset(name="webtext", format="parquet", path=documents("webtext"), weight=0.5),
        config.MixDataset(name="books", format="parquet", path=documents("books"), weight=0.3),
        config.MixDataset(name="other_crawls", format="parquet", path=documents("other_crawls"), weight=0.2)))
    cfg.validate()
    manifest = build_mixture(spark, cfg)
    available = {d["name"]: d["docs_available"] for d in manifest["datasets"]}
    assert available == {"webtext": 4724, "books": 168, "other_crawls": 33}
    assert available == {name: s["documents"] for name, s in stats.items()}
    by_id = {i: (name, text) for name, rows in expected.items() for i, _, text in rows}
    mixture = spark.read.parquet(str(tmp_path / "mix" / "documents")).collect()
    assert len(mixture) == manifest["docs"] and all(by_id[r.id] == (r.dataset, r.text) for r in mixture)

    # The dedup job against the WebText import: copies of 20 WebText documents, among the
    # other crawls' pages, are removed as duplicates of their reference; the references stay.
    from corpus_pipeline.spark.dedup import dedup_job

    originals = [(i, text) for i, _, text in expected["webtext"] if len(text.split()) >= 30][:20]
    targets = [(f"copy-{i}", text) for i, text in originals] + [(i, t) for i, _, t in expected["other_crawls"]]
    spark.createDataFrame(targets, "id string, text string").write.parquet(str(tmp_path / "targets"))
    reference = config.ReferenceSource(name="webtext", format="parquet", path=documents("webtext"))
    cfg = config.DedupJobConfig(input=(str(tmp_path / "targets"),), output=str(tmp_path / "dedup"),
                                dedup=config.DedupConfig(references=(reference,)))
    report = dedup_job(spark, cfg)
    assert report["references"] == 4724 and report["docs"] == 53
    dropped = {r.id: r for r in spark.read.parquet(str(tmp_path / "dedup" / "dropped")).collect()}
    copies = {f"copy-{i}" for i, _ in originals}
    assert {i for i, r in dropped.items() if r.reason == "duplicate_of_reference"} == copies
    assert {dropped[c].duplicate_of for c in copies} <= {i for i, _, _ in expected["webtext"]}


# ---- the job


def test_spark_submit_imports_the_sample(tmp_path):
    """The README's import step: the sample's two mixture datasets."""
    out = tmp_path / "import"
    result = subprocess.run(["spark-submit", "--master", "local[2]", "jobs/import_reference.py", "--output", str(out)],
                            cwd=REPO, env=job_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "corpus-pipeline import: 2 sources, 116 documents" in result.stdout
    stats = {name: json.loads((out / name / "stats.json").read_text()) for name in ("common_crawl", "other_crawls")}
    assert {name: (s["files"], s["documents"]) for name, s in stats.items()} == {
        "common_crawl": (4, 83), "other_crawls": (2, 33)}
    assert all(s["code_version"] and s["format"] == "warc" for s in stats.values())


@pytest.mark.parametrize("args, message", [
    (["jobs/import_reference.py", "--set", 'sources=[{name: gone, format: jsonl, path: /nonexistent.jsonl}]'],
     "import_reference.py: error: source gone: nothing matches /nonexistent.jsonl"),
    (["jobs/import_reference.py", "--set", 'sources=[{name: x, format: txt, path: a}]'],
     "import_reference.py: error: source x: format must be one of"),
    (["jobs/mix.py", "--set", 'datasets=[{name: web, format: jsonl, path: w.jsonl, weight: 1}]'],
     f"mix.py: error: dataset web: format jsonl {RAW_HINT}"),
    (["jobs/train_classifier.py", "--set", 'negatives=[{name: cc, format: warc, path: data/sample}]'],
     f"train_classifier.py: error: source cc: format warc {RAW_HINT}"),
    (["jobs/train_classifier.py", "--set", 'positives=[{name: web, format: parquet, path: /nonexistent}]'],
     "train_classifier.py: error: input not found: /nonexistent"),
])
def test_bad_invocations_fail_in_one_line_before_spark(args, message):
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=job_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message) and result.stderr.count("\n") == 1
