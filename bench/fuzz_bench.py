"""python bench/fuzz_bench.py [--seconds N] [--seed S] [--findings DIR] [--data DIR] [--ranges]

The long run of the mutation fuzz (issue 35): seeded damage (flip, insert, delete, cut,
duplicate bytes, recompress; `corpus_pipeline.fuzz`) to the real archives in shared/data/warc and
data/sample, and to real HTML pages of shared/data/web_html served as WARC responses,
each through the whole per-file ingest (reader, HTTP, decoding, extraction, language ID).
Checked on every trial: nothing raises, at least one outcome comes out, and every outcome
has a known reason; with --ranges, also that the damaged file cut into seeded byte ranges
(ingest.process_file's start/end) gives exactly the whole file's outcomes. Measured: CPU-seconds per trial (the slowest, with its file and seed)
and the peak memory of this process. A trial that breaks an invariant is written to
--findings (the damaged bytes and the traceback) to become a regression test. The tests
run a short, fixed version of this (tests/test_ingest.py).
"""
from __future__ import annotations

import argparse
import io
import random
import resource
import time
import traceback
from pathlib import Path

from corpus_pipeline import fuzz, ingest
from corpus_pipeline.config import IngestConfig

REPO = Path(__file__).resolve().parent.parent
KNOWN = set(ingest.RECORD_REASONS) | set(ingest.FILE_REASONS) | {None}
HTML_PAGES = 200  # a seeded sample of the gold pages; each is wrapped as one WARC response


def corpus(data: Path, rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, bytes) of every real archive and of a sample of real HTML pages as responses."""
    archives = sorted(p for p in (data / "warc").glob("*/*") if p.is_file())
    archives += sorted(p for p in (REPO / "data" / "sample").iterdir() if p.suffix != ".md")
    pages = sorted((data / "web_html").rglob("*.html"))
    items = [(str(p), p.read_bytes()) for p in archives]
    items += [(str(p), as_response(p.read_bytes())) for p in rng.sample(pages, min(HTML_PAGES, len(pages)))]
    return items


def as_response(html: bytes) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:fuzz>\r\n"
            f"WARC-Target-URI: http://example.com/\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def trial(data: bytes, cfg: IngestConfig, cuts: list[int] | None = None) -> str | None:
    """None when the invariants hold, else what broke; `cuts` (stored offsets) also checks
    that the ranges between them give the whole file's outcomes."""
    found = list(ingest.process_stream(io.BytesIO(data), "fuzz.warc", cfg))
    if not found:
        return "no outcome"
    unknown = {o.reason for o in found} - KNOWN
    if unknown:
        return f"unknown reasons {sorted(unknown)}"
    if cuts is not None and ranges_outcomes(data, cfg, cuts) != found:
        return f"ranges cut at {cuts} differ from the whole file"
    return None


def ranges_outcomes(data: bytes, cfg: IngestConfig, cuts: list[int]) -> list:
    bounds = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    ranges = list(zip(bounds, bounds[1:])) or [(0, 0)]  # an empty file is one empty range, as in the job
    return [o for start, end in ranges for o in ingest.process_stream(io.BytesIO(data), "fuzz.warc", cfg, start, end)]


def run(seconds: float, seed: int, findings: Path, data: Path, ranges: bool = False) -> dict:
    rng = random.Random(seed)
    items, cfg = corpus(data, rng), IngestConfig()
    deadline, trials, broken = time.monotonic() + seconds, 0, []
    slowest = (0.0, "", 0)
    while time.monotonic() < deadline:
        name, original = items[trials % len(items)]
        damaged, lo, hi = fuzz.mutate(original, rng)
        cuts = [rng.randrange(len(damaged) + 1) for _ in range(rng.randrange(1, 8))] + [lo] if ranges else None
        started = time.process_time()
        try:
            problem = trial(damaged, cfg, cuts)
        except Exception:  # a finding: exactly what the harness is for
            problem = traceback.format_exc()
        cpu = time.process_time() - started
        slowest = max(slowest, (cpu, name, trials))
        if problem:
            broken.append(write_finding(findings, seed, trials, name, damaged, problem))
        trials += 1
    return {"trials": trials, "inputs": len(items), "findings": broken, "slowest": slowest,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def write_finding(folder: Path, seed: int, index: int, name: str, damaged: bytes, problem: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"seed{seed}-trial{index}"
    stem.with_suffix(".bin").write_bytes(damaged)
    stem.with_suffix(".txt").write_text(f"{name}\n{problem}\n")
    return str(stem)


def main():
    parser = argparse.ArgumentParser(prog="fuzz_bench.py", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="how long to fuzz")
    parser.add_argument("--seed", type=int, default=35, help="the run's seed (same seed, same trials)")
    parser.add_argument("--findings", default="output/fuzz", help="where broken trials are written")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--ranges", action="store_true",
                        help="also cut each damaged file into seeded byte ranges (about twice the CPU a trial)")
    args = parser.parse_args()
    result = run(args.seconds, args.seed, Path(args.findings), Path(args.data), args.ranges)
    cpu, name, index = result["slowest"]
    print(f"fuzz: {result['trials']:,} trials over {result['inputs']} real inputs in {args.seconds:g} s, "
          f"seed {args.seed}; findings {len(result['findings'])}"
          + (f" (in {args.findings})" if result["findings"] else ""))
    print(f"  slowest trial {cpu:.2f} CPU-s (trial {index}, {Path(name).name}); peak memory "
          f"{result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
