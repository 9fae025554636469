"""python jobs/report.py [RUN ...]

Writes report.html (plots and sample documents, self-contained) and samples/ (Parquet) into
finished jobs/filter.py output folders, without Spark: for runs made before the report
existed, or to look again after changing the report. Default: output/filter.
"""
import argparse
import sys

from corpus_pipeline.report import write_report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="report.py", description=__doc__.splitlines()[2])
    parser.add_argument("runs", nargs="*", default=["output/filter"], help="filter output folders")
    args = parser.parse_args(argv)
    for run in args.runs:
        try:
            print(write_report(run))
        except FileNotFoundError as err:
            sys.exit(f"report.py: error: {run} is not a finished filter run ({err.filename or err} is missing)")


if __name__ == "__main__":
    main()
