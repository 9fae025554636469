"""Shared fixtures: the real data folder, small WARC builders, one local[2] Spark session,
and the shared data's reference corpora imported once."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CORPUS_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "data" / "sample"


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; the test skips, saying why, where the folder is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs the project's shared data ({path} is absent: clone with ../shared beside it)")
    return path


def warc_record(warc_type: str, body: bytes, **headers) -> bytes:
    """One WARC/1.0 record as bytes; header names given as WARC_Target_URI=..."""
    record_id = hashlib.md5(repr((warc_type, body, sorted(headers.items()))).encode()).hexdigest()
    fields = {"WARC-Type": warc_type, "WARC-Record-ID": f"<urn:uuid:{record_id}>", "Content-Length": str(len(body))}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode() + body + b"\r\n\r\n"


def http_response(body: bytes, status: str = "200 OK", content_type: str = "text/html; charset=utf-8",
                  extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}\r\n"
    return head.encode("latin-1") + body


def response_record(body: bytes, url: str = "http://example.com/", **http) -> bytes:
    return warc_record("response", http_response(body, **http), WARC_Target_URI=url,
                       Content_Type="application/http; msgtype=response")


def gzip_members(records: list[bytes]) -> bytes:
    """One gzip member per record, as Common Crawl writes .warc.gz."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


ENGLISH_PAGE = (
    "<html><head><title>Harbour history</title></head><body><nav><a href='/'>Home</a></nav>"
    "<article><h1>The old harbour</h1>"
    "<p>The old harbour was built in the eighteenth century to shelter fishing boats from the "
    "winter storms that sweep in from the north sea every year.</p>"
    "<p>Today the harbour is a quiet place where visitors walk along the stone piers, watch the "
    "boats come in, and read the history of the town on the boards near the lighthouse.</p>"
    "</article></body></html>"
).encode()


@pytest.fixture(scope="session")
def cc_texts() -> list[str]:
    """697 real Common Crawl documents (dolma's CC subset), 27 of them with empty text."""
    path = shared_file("cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


@pytest.fixture(scope="session")
def oscar_texts() -> list[str]:
    """257 real Common Crawl documents in 133 languages (OSCAR 2019, 2 or so per language)."""
    import glob
    import zipfile

    texts = []
    for path in sorted(glob.glob(str(shared_file("cc_text/oscar2019-hf-dummy/oscar/dummy")) + "/*/1.0.0/dummy_data.zip")):
        with zipfile.ZipFile(path) as archive:
            for name in (n for n in archive.namelist() if n.endswith(".txt.gz")):
                text = gzip.decompress(archive.read(name)).decode("utf-8")
                texts += [doc for doc in text.split("\n\n") if doc.strip()]
    return texts


# Texts where Java's and Python's lower case, or Java's split, could part ways: Turkish
# dotted I, Greek capital sigma in every context (Java decides "final" by word boundaries,
# Python by case-ignorable characters), letters of Unicode versions newer than Java 17's,
# CJK, emoji, combining and zero-width characters, runs of whitespace.
UNICODE_TEXTS = [
    "İstanbul'da İİ ıi I i KIRIKKALE ışık",
    "ΟΔΟΣ ΣΟΦΟΣ ΑΣ-Β Α-Σ Α_Σ ΑΣ:Β Α:Σ ⒶΣ ΑΣⒶ ΑΣ1Β Α..Σ ΑΣ's Σ ΣΑ ΑΣ\u0301 Α\u00adΣ ΑΣ\u200dΒ Ὀδυσσεύς ΟΔΥΣΣΕΥΣ.",
    "STRASSE Straße ẞ ǅemal ǄEMAL ﬁ ﬀ Ǉ",
    "Ⱟ ꟀꟁꟐꟖꟘ 𐕰𐕱 Ᲊ ᲐᲑᲒ ᏣᎳᎩ ꮳꮃꭹ 𞤀𞤁",
    "東京は日本の首都です。中文测试，한국어 텍스트",
    "emoji 🙂 👍🏽 🇺🇸 👨\u200d👩\u200d👧 𝐀𝐁𝐂 𝔄",
    "e\u0301 A\u030a a\u200bb\u200dc non\xa0breaking\u2028line\u2029para soft\xadhyphen",
    "", "   ", "\t\n", "a\x0b\x0cb", "x\r\n\r\ny  ", "  lead  trail  ",
    # every code point that has a lower case in Python, each alone between spaces
    " ".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c).lower() != chr(c)),
]


@pytest.fixture(scope="session")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("corpus-pipeline-tests")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.execution.pythonUDF.arrow.enabled", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_import(spark, tmp_path_factory):
    """The classifier's sources of conf/import/shared.yaml (WebText, Wikipedia, WikiText-2,
    Gutenberg, CC WARC, dolma CC) imported once: (import folder, stats by source name)."""
    from corpus_pipeline import config
    from corpus_pipeline.spark.imports import import_sources

    shared_file("positives/webtext/webtext.valid.trunc63tok.jsonl")
    cfg = config.load(config.ImportConfig, REPO / "conf" / "import" / "shared.yaml")
    train = config.load(config.TrainConfig, REPO / "conf" / "quality.yaml")
    wanted = {s.name for s in train.positives + train.negatives}
    sources = [dataclasses.replace(s, path=s.path.replace("../shared/data", str(SHARED_DATA)))
               for s in cfg.sources if s.name in wanted]
    folder = tmp_path_factory.mktemp("import") / "shared"
    return folder, {s["name"]: s for s in import_sources(spark, sources, cfg.ingest, str(folder))}


def pytest_collection_modifyitems(items):
    """Mark every test that starts Spark (the session fixture, or a spark-submit of its own) as
    `spark`, so that `pytest -m "not spark"` runs the fast, Spark-free subset alone."""
    for item in items:
        source = getattr(item.function, "__code__", None)
        submits = source is not None and "spark-submit" in source.co_consts
        if "spark" in getattr(item, "fixturenames", ()) or submits or item.module.__name__.endswith("test_cluster"):
            item.add_marker(pytest.mark.spark)
