"""python bench/split_bench.py [--copies N] [--ranges K] [--data DIR] [--file PATH]

One large archive processed as K byte ranges in K processes (issue 34) against the whole
file in one process. The input is --file, or a file of N concatenated copies of the shared
multi-member .warc.gz archives (gzip members concatenate validly). Measured in CPU-seconds
of each process (never wall time): the whole file; each range; and the part of a range
spent reading the records before it (a range reads, but does not extract, the file from
its start: offsets and the crawl name depend on what comes before). Checked: the ranges'
outcomes, concatenated, are exactly the whole file's.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from corpus_pipeline import ingest
from corpus_pipeline.config import IngestConfig

REPO = Path(__file__).resolve().parent.parent
ARCHIVES = ("warc/non_cc/IA-2008_heritrix-IAH-20080430204825-00000-blackbook.warc.gz",
            "warc/cc/CC-MAIN-2020-34_resiliparse-warcfile.warc.gz",
            "warc/non_cc/wayback-2010_cdx-toolkit-extract.warc.gz",
            "warc/non_cc/wget-2024_dolma-sample-0000.warc.gz")


def concatenated(data: Path, copies: int, folder: Path) -> Path:
    one = b"".join((data / name).read_bytes() for name in ARCHIVES)
    path = folder / f"concat-{copies}.warc.gz"
    with open(path, "wb") as out:
        for _ in range(copies):
            out.write(one)
    return path


def run_range(args: tuple) -> tuple[float, int, list[bytes]]:
    """(CPU-seconds, outcomes, a digest of each outcome) of one range, in this process."""
    path, start, end, extract = args
    cfg = IngestConfig()
    began, digests, count = time.process_time(), [], 0
    if extract:
        for outcome in ingest.process_file(path, cfg, start, end):
            digests.append(hashlib.blake2b(repr(outcome.as_tuple()).encode(), digest_size=16).digest())
            count += 1
    else:  # the reading every range does before its start: the reader alone over [0, start)
        from corpus_pipeline import warc
        with open(path, "rb") as raw:
            for record in warc.iter_records(raw, cfg.max_record_bytes):
                if record.member_offset >= start:
                    break
                count += 1
    return time.process_time() - began, count, digests


def warm_up():
    """Load the extractor and the language model before forking, so no process pays for it."""
    page = b"<html><body><p>" + b"A sentence about the harbour and its boats. " * 20 + b"</p></body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page
    record = (b"WARC/1.0\r\nWARC-Type: response\r\nContent-Type: application/http; msgtype=response\r\n"
              b"Content-Length: %d\r\n\r\n" % len(http)) + http + b"\r\n\r\n"
    assert next(ingest.process_stream(io.BytesIO(record), "warm-up", IngestConfig())).reason is None


def measure(path: Path, ranges: int) -> dict:
    size = path.stat().st_size
    cuts = ingest.split_ranges(str(path), size, -(-size // ranges))
    warm_up()
    pool = multiprocessing.get_context("fork").Pool(len(cuts))
    try:
        (whole_cpu, whole_n, whole_digests), = pool.map(run_range, [(str(path), 0, None, True)])
        parts = pool.map(run_range, [(str(path), start, end, True) for start, end in cuts])
        prefix = pool.map(run_range, [(str(path), start, None, False) for start, _ in cuts])
    finally:
        pool.close()
    identical = [d for part in parts for d in part[2]] == whole_digests
    return {"size": size, "cuts": cuts, "whole": (whole_cpu, whole_n), "parts": parts, "prefix": prefix,
            "identical": identical}


def main():
    parser = argparse.ArgumentParser(prog="split_bench.py", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--copies", type=int, default=32, help="copies of the shared archives (3.1 MB each)")
    parser.add_argument("--ranges", type=int, default=2, help="byte ranges, each in its own process")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--file", help="measure this archive instead of the concatenated copies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.file) if args.file else concatenated(Path(args.data), args.copies, Path(folder))
        result = measure(path, args.ranges)
    whole_cpu, whole_n = result["whole"]
    print(f"split: {path.name}, {result['size'] / 1e6:.1f} MB, {whole_n:,} outcomes; "
          f"ranges identical to the whole file: {result['identical']}")
    print(f"  whole file, 1 process: {whole_cpu:.2f} CPU-s")
    for (start, end), (cpu, n, _), (read_cpu, before, _) in zip(result["cuts"], result["parts"], result["prefix"]):
        print(f"  range [{start:,}, {end:,}): {cpu:.2f} CPU-s ({cpu / whole_cpu:.0%} of the whole), {n:,} outcomes; "
              f"reading the {before:,} records before it: {read_cpu:.2f} CPU-s")


if __name__ == "__main__":
    main()
