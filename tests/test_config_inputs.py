"""Config loading and input expansion: everything that must fail before Spark starts."""
from __future__ import annotations

import gzip

import pytest

from corpus_pipeline import config, inputs
from corpus_pipeline.config import ConfigError, FilterConfig

from .conftest import REPO, SAMPLE

SAMPLE_FILES = sorted(str(p) for p in SAMPLE.iterdir() if inputs.is_archive(p.name))


def test_shipped_config_loads_with_documented_defaults():
    cfg = config.load(FilterConfig, REPO / "conf" / "filter.yaml")
    assert cfg.input == ("data/sample",) and cfg.ingest.languages == ("en",)
    assert cfg == FilterConfig(input=("data/sample",), output="output/filter",
                               spark=config.SparkConfig(app_name="corpus-pipeline-filter"))


def test_overrides_are_parsed_as_yaml():
    cfg = config.load(FilterConfig, None, ["ingest.min_chars=500", "ingest.languages=[en, de]", "output=x"])
    assert (cfg.ingest.min_chars, cfg.ingest.languages, cfg.output) == (500, ("en", "de"), "x")


@pytest.mark.parametrize("override, message", [
    ("ingest.min_chars=many", "ingest.min_chars must be int"),
    ("ingest.min_lang_score=2", "ingest.min_lang_score must be in [0, 1]"),
    ("ingest.extractor=regex", "ingest.extractor must be resiliparse or trafilatura"),
    ("ingest.min_chras=5", "unknown config key ingest.min_chras"),
    ("nonsense", "--set expects key=value"),
])
def test_bad_settings_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config.load(FilterConfig, None, [override])


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(FilterConfig, tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("ingest: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(FilterConfig, tmp_path / "bad.yaml")


def test_folder_glob_and_file_inputs():
    assert inputs.expand([str(SAMPLE)]) == SAMPLE_FILES
    assert inputs.expand([str(SAMPLE / "*.warc.gz")]) == [f for f in SAMPLE_FILES if f.endswith(".warc.gz")]
    assert inputs.expand([SAMPLE_FILES[0], SAMPLE_FILES[0]]) == [SAMPLE_FILES[0]]


def test_manifests_plain_gzip_and_relative(tmp_path):
    names = [p.rsplit("/", 1)[-1] for p in SAMPLE_FILES]
    (tmp_path / "warc.paths").write_text("# sample\n" + "\n".join(names) + "\n\n")
    assert inputs.expand([str(tmp_path / "warc.paths")], prefix=str(SAMPLE) + "/") == SAMPLE_FILES
    (tmp_path / "abs.paths.gz").write_bytes(gzip.compress("\n".join(SAMPLE_FILES).encode()))
    assert inputs.expand([str(tmp_path / "abs.paths.gz")]) == SAMPLE_FILES


def test_missing_and_empty_inputs_are_errors(tmp_path):
    with pytest.raises(inputs.InputError, match="input not found"):
        inputs.expand([str(tmp_path / "nope.warc.gz")])
    with pytest.raises(inputs.InputError, match="holds no WARC/WET/ARC file"):
        inputs.expand([str(tmp_path)])


def test_any_file_type_by_folder_glob_or_name(tmp_path):
    """expand_files (reference texts): every file of a folder, not its sub-folders; a glob;
    a suffix filter; a manifest is a file like any other; missing or empty inputs are errors."""
    every = sorted(str(p) for p in SAMPLE.iterdir() if p.is_file())
    assert inputs.expand_files([str(SAMPLE)]) == every and str(SAMPLE / "PROVENANCE.md") in every
    assert inputs.expand_files([str(SAMPLE)], suffixes=(".md",)) == [str(SAMPLE / "PROVENANCE.md")]
    assert inputs.expand_files([str(SAMPLE / "*.warc.gz"), every[0]]) == sorted(
        {every[0], *(f for f in SAMPLE_FILES if f.endswith(".warc.gz"))})
    (tmp_path / "books").mkdir()
    (tmp_path / "a.paths").write_text("not/read.warc.gz\n")
    assert inputs.expand_files([str(tmp_path / "a.paths")]) == [str(tmp_path / "a.paths")]
    assert inputs.expand_files([str(tmp_path)]) == [str(tmp_path / "a.paths")]  # books/ is a folder
    with pytest.raises(inputs.InputError, match="input not found"):
        inputs.expand_files([str(tmp_path / "nope.txt")])
    with pytest.raises(inputs.InputError, match="holds no file ending .txt"):
        inputs.expand_files([str(tmp_path / "*")], suffixes=(".txt",))


def test_the_configuration_reference_is_current_and_covers_every_job():
    """docs/configuration.md is written from the config classes; a changed key, default or
    comment needs `python -m corpus_pipeline.confdoc > docs/configuration.md`."""
    from corpus_pipeline import confdoc, launch

    assert (REPO / "docs" / "configuration.md").read_text() == confdoc.markdown()
    with_config = {name for name, path in launch.job_files().items() if launch.load_job(path).config_class}
    assert with_config == {job for job, _, _ in confdoc.jobs_with_config()}
    for job, conf, cls in confdoc.jobs_with_config():
        assert launch.load_job(launch.job_files()[job]).config_class is cls and (REPO / conf).exists()
        assert launch.load_job(launch.job_files()[job]).default_conf == str(REPO / conf)
