"""Ingest throughput per core: read + extract + language ID on the shared WARC/WET/ARC files.

Data: shared/data/warc/cc/* (Common Crawl WARC, WET and ARC excerpts) and
shared/data/warc/non_cc/* (Internet Archive, Wayback and wget crawls), reported per group
and in total.

Contenders, each run in its own child process pinned to one core (so peak RSS is its own):
- ours:     corpus_pipeline.ingest.process_file(path, IngestConfig()), i.e. our reader,
            Resiliparse extraction and fastText lid.176 language ID.
- baseline: warcio ArchiveIterator + trafilatura.extract() on text/html HTTP responses,
            and the same corpus_pipeline.langid.identify on every non-empty text; WET
            `conversion` records get language ID only (the FineWeb-style tool choice).

Measured per contender: wall seconds (sum over files of the best of --repeat passes; CPU
seconds of the process alongside, since wall time suffers from other load on the core),
HTML pages/s, documents/s (records that produced text), MB/s of input (compressed file
bytes) and peak RSS (ru_maxrss of the child). The language-ID model is loaded before the
clock starts, so model load time is excluded. A file warcio cannot read (single-stream
gzip WET, ARC) is reported as "unreadable by warcio" and left out of the baseline's
rates; the ratio line uses only the files both contenders read.

Usage: python bench/ingest_bench.py [--data DIR] [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [REPO_ROOT.parent / "shared" / "data" / "warc"]
GROUPS = {"cc": "Common Crawl", "non_cc": "non-CC"}
CONTENDERS = ("ours", "baseline")


# ---------------------------------------------------------------- per-file work (child)

def run_ours(path: str) -> dict:
    from corpus_pipeline.config import IngestConfig
    from corpus_pipeline.ingest import process_file

    counts = dict(pages=0, docs=0, kept=0, error=None)
    for out in process_file(path, IngestConfig()):
        if out.reason and out.reason.startswith("file_"):
            counts["error"] = f"{out.reason}: {out.detail}"
        if out.warc_type == "response" and out.text_chars is not None:
            counts["pages"] += 1  # an HTML page went through the extractor
        if out.text_chars:
            counts["docs"] += 1
        if out.reason is None:
            counts["kept"] += 1
    return counts


def run_baseline(path: str) -> dict:
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    counts = dict(pages=0, docs=0, kept=0, error=None)
    try:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                text = baseline_text(record, trafilatura, counts)
                if text:
                    counts["docs"] += 1
                    counts["kept"] += keeps(text)
    except ArchiveLoadFailed as err:  # single-stream gzip WET, ARC files
        counts["error"] = f"ArchiveLoadFailed: {str(err).strip().splitlines()[0][:80]}"
    return counts


def baseline_text(record, trafilatura, counts: dict) -> str | None:
    if record.rec_type == "conversion":  # WET: the text is already extracted
        return record.content_stream().read().decode("utf-8", "replace")
    if record.rec_type != "response" or record.http_headers is None:
        return None
    # The same pages as ours extracts: 2xx HTML, not truncated by the crawler.
    status = record.http_headers.get_statuscode() or ""
    if not status.startswith("2") or record.rec_headers.get_header("WARC-Truncated"):
        return None
    content_type = record.http_headers.get_header("Content-Type") or ""
    if not content_type.lower().startswith("text/html"):
        return None
    counts["pages"] += 1
    return trafilatura.extract(record.content_stream().read())


def keeps(text: str) -> int:
    """Our keep rule (min_chars, languages, min_lang_score), applied to the baseline's text."""
    from corpus_pipeline.config import IngestConfig
    from corpus_pipeline.langid import identify

    cfg = IngestConfig()  # defaults, as "ours" uses
    lang, score = identify(text, cfg.lid_max_chars)  # language ID runs on every text
    return int(len(text) >= cfg.min_chars and cfg.keeps_language(lang, score))


def warm_imports(name: str):
    if name == "ours":
        import corpus_pipeline.ingest  # noqa: F401  (resiliparse, fsspec)
    else:
        import trafilatura  # noqa: F401
        import warcio.archiveiterator  # noqa: F401

        import corpus_pipeline.config  # noqa: F401


def child(name: str, files: list[tuple[str, str]], repeat: int) -> dict:
    """Time one contender on every file; best of `repeat` passes per file."""
    os.sched_setaffinity(0, {0})
    from corpus_pipeline import langid

    started = time.perf_counter()
    langid.load_model()  # warm-up: model load is not timed
    load_s = time.perf_counter() - started
    warm_imports(name)  # nor are the imports
    work = run_ours if name == "ours" else run_baseline
    results = [dict(group=group, path=path, bytes=os.path.getsize(path),
                    seconds=float("inf"), cpu=float("inf")) for group, path in files]
    for _ in range(repeat):
        for row in results:
            started, cpu_started = time.perf_counter(), time.process_time()
            counts = work(row["path"])
            row["cpu"] = min(row["cpu"], time.process_time() - cpu_started)
            row["seconds"] = min(row["seconds"], time.perf_counter() - started)
            row.update(counts)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return dict(name=name, files=results, peak_rss_mb=peak_mb, model_load_s=load_s)


# ---------------------------------------------------------------- driver (parent)

def find_data(arg: str | None) -> Path:
    candidates = [Path(arg)] if arg else DEFAULT_DATA
    for path in candidates:
        if all((path / group).is_dir() for group in GROUPS):
            return path
    sys.exit(f"ingest_bench: no WARC data at {' or '.join(map(str, candidates))} "
             f"(expected sub-folders {', '.join(g + '/' for g in GROUPS)}); pass --data DIR")


def list_files(data: Path) -> list[tuple[str, str]]:
    return [(group, str(p)) for group in GROUPS for p in sorted((data / group).iterdir()) if p.is_file()]


def run_child(name: str, data: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--one", name, "--data", str(data), "--repeat", str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode != 0:
        sys.exit(f"ingest_bench: child {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(rows: list[dict]) -> dict:
    read = [r for r in rows if not r["error"]]
    total = {k: sum(r[k] for r in read) for k in ("bytes", "seconds", "cpu", "pages", "docs", "kept")}
    secs = total["seconds"] or float("nan")
    return dict(total, files=len(read), unreadable=len(rows) - len(read),
                pages_s=total["pages"] / secs, docs_s=total["docs"] / secs,
                mb_s=total["bytes"] / 1e6 / secs, pages_cpu_s=total["pages"] / (total["cpu"] or float("nan")))


HEADER = (f"{'group':<10} {'contender':<9} {'files':>5} {'unread':>6} {'MB':>6} {'wall s':>7} {'cpu s':>7} "
          f"{'pages':>5} {'docs':>5} {'kept':>5} {'pages/s':>8} {'docs/s':>7} {'MB/s':>6}")


def table_line(label: str, name: str, s: dict) -> str:
    return (f"{label:<10} {name:<9} {s['files']:>5} {s['unreadable']:>6} {s['bytes'] / 1e6:>6.2f} "
            f"{s['seconds']:>7.3f} {s['cpu']:>7.3f} {s['pages']:>5} {s['docs']:>5} {s['kept']:>5} "
            f"{s['pages_s']:>8.1f} {s['docs_s']:>7.1f} {s['mb_s']:>6.2f}")


def report(data: Path, files: list, results: dict, repeat: int):
    counts = {g: sum(1 for grp, _ in files if grp == g) for g in GROUPS}
    print(f"data: {data}")
    print(", ".join(f"shared/data/warc/{g}: {counts[g]} files ({label})" for g, label in GROUPS.items()))
    print(f"one core (sched_setaffinity {{0}}), best of {repeat} per file; "
          "language-ID model load excluded from timing")
    print(HEADER)
    both = {r["path"] for r in results["baseline"]["files"] if not r["error"]}
    groups = [(g, lambda r, g=g: r["group"] == g) for g in GROUPS]
    groups += [("total", lambda r: True), ("both-read", lambda r: r["path"] in both)]
    for label, keep in groups:
        for name in CONTENDERS:
            print(table_line(label, name, summarise([r for r in results[name]["files"] if keep(r)])))
    for name in CONTENDERS:
        res = results[name]
        print(f"peak RSS {name}: {res['peak_rss_mb']:.0f} MB (language-ID model load {res['model_load_s']:.2f} s, untimed)")
    print("unreadable by warcio:", sum(1 for r in results["baseline"]["files"] if r["error"]), "file(s)")
    for r in results["baseline"]["files"]:
        if r["error"]:
            print(f"  {Path(r['path']).name}: {r['error']}")
    ours = summarise([r for r in results["ours"]["files"] if r["path"] in both])
    base = summarise([r for r in results["baseline"]["files"] if r["path"] in both])
    print(f"ours / baseline pages/s = {ours['pages_s'] / base['pages_s']:.1f}x (on files both read)")
    print(f"ours / baseline pages per CPU second = {ours['pages_cpu_s'] / base['pages_cpu_s']:.1f}x "
          "(on files both read; less sensitive to other load on the core)")
    print("columns: pages = text/html responses extracted; docs = records that produced text "
          "(pages + WET conversions); kept = docs passing min_chars=200, lang en, score>=0.5")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder holding cc/ and non_cc/ (default: repo_root/../shared/data/warc)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    parser.add_argument("--one", choices=CONTENDERS, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    data = find_data(args.data)
    files = list_files(data)
    if args.one:
        print(json.dumps(child(args.one, files, args.repeat)))
        return
    results = {name: run_child(name, data, args.repeat) for name in CONTENDERS}
    report(data, files, results, args.repeat)


if __name__ == "__main__":
    main()
