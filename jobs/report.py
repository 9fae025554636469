"""python jobs/report.py [RUN ...]

Writes report.html (plots and sample documents, self-contained) and samples/ (Parquet) into
finished jobs/filter.py output folders, without Spark: for runs made before the report
existed, or to look again after changing the report. Default: output/filter.
"""
import sys

from corpus_pipeline import report
from corpus_pipeline.job import Job


def options(parser):
    parser.add_argument("runs", nargs="*", default=["output/filter"],
                        help="filter output folders (default: %(default)s)")


JOB = Job(prog="report.py", doc=__doc__, options=options, uses_spark=lambda args: False,
          local_work=lambda args: [report.write_report_of_run(run) for run in args.runs],
          summary=lambda written, args, seconds: "\n".join(written))

if __name__ == "__main__":
    sys.exit(JOB.main())
