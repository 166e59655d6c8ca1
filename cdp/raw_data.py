"""The raw folder a run reads: generated sample data when CDP_RAW_DIR is unset and none exists yet, then the
pre-flight check of every raw file (cdp/preflight.py), so that a bad file stops the run before dbt starts."""

from __future__ import annotations

from cdp.landing import landing_folder
from cdp.preflight import require_clean_raw_folder
from cdp.registry import load_registry
from cdp.settings import SAMPLE_PERSONS, SAMPLE_SEED, Settings


def ensure_raw_data(settings: Settings, persons: int = SAMPLE_PERSONS) -> None:
    """Generate the sample data set when CDP_RAW_DIR is unset and no sample exists yet; then check the folder
    (SystemExit with one line naming the file and the problem)."""
    first = next(iter(load_registry().values()))
    present = (settings.raw_dir / first.file_name).exists() or landing_folder(settings.raw_dir, first).is_dir()
    if not present and settings.raw_dir_is_default:
        from datagen.sample_data import generate

        print(f"generating sample data: {persons} persons into {settings.raw_dir}", flush=True)
        generate(persons, SAMPLE_SEED, settings.raw_dir)
    require_clean_raw_folder(settings.raw_dir)
