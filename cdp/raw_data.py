"""The raw folder a run reads: generated sample data when CDP_RAW_DIR is unset and none exists yet."""

from __future__ import annotations

from cdp.settings import SAMPLE_PERSONS, SAMPLE_SEED, Settings


def ensure_raw_data(settings: Settings, persons: int = SAMPLE_PERSONS) -> None:
    """Generate the sample data set when CDP_RAW_DIR is unset and no sample exists yet."""
    if (settings.raw_dir / "crm_contacts.csv").exists():
        return
    if not settings.raw_dir_is_default:
        raise SystemExit(f"CDP_RAW_DIR={settings.raw_dir} has no crm_contacts.csv: the raw files follow "
                         "docs/raw_sources.md")
    from datagen.sample_data import generate

    print(f"generating sample data: {persons} persons into {settings.raw_dir}", flush=True)
    generate(persons, SAMPLE_SEED, settings.raw_dir)
