"""The application around the Dagster definitions: the `cdp` command line, the settings every entry point
reads, the in-process pipeline runner with its readable output, run reports and governance suites."""
