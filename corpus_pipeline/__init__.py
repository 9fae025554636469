"""corpus-pipeline: a GPT-3-style web-corpus filtering pipeline on Spark."""
import functools
import subprocess
from pathlib import Path

# Shard fingerprints include the version (corpus_pipeline/spark/shards.py): bump it whenever a
# release changes in code what ingest makes of a record (the block weights are fingerprinted too).
__version__ = "0.6.0"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus the git commit (and `-dirty`) when run from a checkout."""
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{commit}" if commit else __version__
