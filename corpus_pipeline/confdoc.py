"""The configuration reference (docs/configuration.md), written from the config classes.

Consumes each job's config dataclass (`corpus_pipeline.config`) and the comments beside and
above its fields; produces one Markdown table a job: every key, its type, its default and
what it does. `python -m corpus_pipeline.confdoc > docs/configuration.md` writes the page;
a test checks that the page is current, so the reference cannot drift from the code.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import typing

from . import launch

_FIELD = re.compile(r"^\s{4}(\w+):")


def field_comments(cls) -> dict[str, str]:
    """{field: its comment}: the comment on the field's line and the comment lines just above it."""
    comments, above = {}, []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# "))
            continue
        match = _FIELD.match(line)
        if match:
            beside, lead = line.partition("  # ")[2].strip(), " ".join(above)
            comments[match.group(1)] = f"{beside} ({lead})" if beside and lead else beside or lead
        above = []
    return comments


def _nested_class(annotation):
    """The dataclass a field holds, alone or as a tuple of them; else None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value)


def _type_name(annotation) -> str:
    return re.sub(r"\b(typing|corpus_pipeline\.config)\.", "", str(annotation)).replace("<class '", "").replace("'>", "")


def rows(cls, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) of every leaf key of `cls`, nested sections as a.b."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    found = []
    for field in dataclasses.fields(cls):
        nested = _nested_class(hints[field.name])
        if nested is not None:
            is_list = typing.get_origin(hints[field.name]) is tuple
            found += rows(nested, f"{prefix}{field.name}{'[]' if is_list else ''}.")
            continue
        found.append((prefix + field.name, _type_name(hints[field.name]), _default(field),
                      comments.get(field.name, "")))
    return found


def jobs_with_config() -> list[tuple[str, str, type]]:
    """(job, its default config file relative to the repository, its config class) of every
    job in jobs/ that takes a config, read from the job files themselves."""
    found = []
    for name, path in launch.job_files().items():
        job = launch.load_job(path)
        if job.config_class:
            found.append((name, os.path.relpath(job.default_conf, launch.JOBS.parent), job.config_class))
    return found


def markdown() -> str:
    lines = ["# Configuration reference", "",
             "Every key of every job's config, with its default. A job reads its YAML file "
             "(`--conf`, default below) and then each `--set key=value` (the value is parsed as "
             "YAML: `--set ingest.languages=[en,de]`). Unknown keys, wrong types and impossible "
             "values are refused in one line before Spark starts. Keys ending in `[]` belong to "
             "each entry of a list. Written by `python -m corpus_pipeline.confdoc > "
             "docs/configuration.md` from `corpus_pipeline/config.py`.", ""]
    for job, conf, cls in jobs_with_config():
        lines += [f"## {job}", "", f"`corpus-pipeline {job}`, default config `{conf}`.", "",
                  "| key | type | default | what it does |", "|---|---|---|---|"]
        for key, kind, default, text in rows(cls):
            lines.append(f"| `{key}` | {kind} | `{default}` | {text.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
