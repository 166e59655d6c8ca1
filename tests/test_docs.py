"""The README and the docs are a guide a reader follows: every relative link resolves (the file, and for an
`#anchor` a heading of it), and every command in a shell block names something real: a Makefile target, a `cdp`
subcommand with options the command line accepts, a dbt command, or a script or test file of the project. No dbt
runs here; the `cdp` command line is parsed, never executed."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import sys
import unicodedata
from pathlib import Path

import pytest

from cdp import cli

PROJECT_DIR = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200
SHELL_LANGUAGES = {"sh", "shell", "bash", "console"}
DBT_COMMANDS = {"build", "run", "seed", "test", "ls", "list", "parse", "compile", "show", "docs", "source",
                "debug", "clean", "snapshot", "run-operation", "retry", "clone"}
PYTHONS = {"python", "python3", ".venv/bin/python"}
FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+).+?\1")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def guide_files() -> list[Path]:
    """The pages a reader follows: the README, the changelog, the benchmark guide and every page under docs/."""
    files = [PROJECT_DIR / "README.md", PROJECT_DIR / "CHANGELOG.md", PROJECT_DIR / "bench" / "README.md"]
    return [f for f in files if f.exists()] + sorted((PROJECT_DIR / "docs").rglob("*.md"))


def split_fences(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The prose lines (code blocks blanked, so line numbers stay) and each fenced block with its language."""
    prose, blocks, fence, language, body = [], [], None, "", []
    for line in text.splitlines():
        m = FENCE.match(line.strip())
        if fence is None and m:
            fence, language, body = m.group(1), m.group(2).lower(), []
            prose.append("")
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence):].strip():
            blocks.append((language, body))
            fence = None
            prose.append("")
        elif fence is not None:
            body.append(line)
            prose.append("")
        else:
            prose.append(line)
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor the headings of a Markdown file define (a repeated heading gets -1, -2, ...)."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            if n:
                seen[f"{base}-{n}"] = 1
    return set(seen)


def broken_links(path: Path) -> list[str]:
    """Relative links of one file that do not resolve, as `file:line: target (why)`."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    problems = []
    for number, line in enumerate(prose, 1):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(PROJECT_DIR)}:{number}: {target}"
            if not resolved.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where} (no heading with that anchor)")
    return problems


def makefile_targets() -> set[str]:
    text = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", text, re.M)}


class Parsed(Exception):
    """Raised instead of running a command once the `cdp` command line has parsed it."""


def cdp_problem(args: list[str]) -> str | None:
    """Why `cdp ARGS` is not a command the command line accepts (None when it is). Parses only."""
    original = argparse.ArgumentParser.parse_args

    def parse_only(self, argv=None, namespace=None):
        raise Parsed(original(self, argv, namespace))

    argparse.ArgumentParser.parse_args = parse_only
    try:
        cli.main(args)
    except Parsed:
        return None
    except SystemExit:
        return "the cdp command line refuses it"
    finally:
        argparse.ArgumentParser.parse_args = original
    return "it ran instead of being parsed"


def python_problem(args: list[str]) -> str | None:
    if not args:
        return "python without a script"
    if args[0] == "-c":
        return None
    if args[0] == "-m":
        if len(args) < 2 or importlib.util.find_spec(args[1]) is None:
            return "no such module"
        paths = [a.split("::")[0] for a in args[2:] if a.startswith("tests/")]
        missing = [p for p in paths if not (PROJECT_DIR / p).exists()]
        return f"no such file: {', '.join(missing)}" if missing else None
    return None if (PROJECT_DIR / args[0]).is_file() else f"no such script: {args[0]}"


def command_problem(command: str, targets: set[str]) -> str | None:
    """Why one shell command names nothing real (None when it does)."""
    words = shlex.split(command, comments=True)
    while words and (ASSIGNMENT.match(words[0]) or words[0] == "time"):
        words = words[1:]
    if not words:
        return None
    program, args = words[0], words[1:]
    if program == "export":
        return None if all(ASSIGNMENT.match(a) for a in args) else "export of something other than a variable"
    if program == "make":
        named = [a for a in args if not a.startswith("-") and not ASSIGNMENT.match(a)]
        unknown = [a for a in named if a not in targets]
        return f"no Makefile target {', '.join(unknown)}" if unknown else None
    if program in {"cdp", ".venv/bin/cdp"}:
        return cdp_problem(args)
    if program in PYTHONS:
        return python_problem(args)
    if program in {"dbt", ".venv/bin/dbt"}:
        verbs = [a for a in args if not a.startswith("-")]
        return None if verbs and verbs[0] in DBT_COMMANDS else "no such dbt command"
    return f"{program} is not a make target, cdp, python or dbt"


def shell_commands(path: Path) -> list[str]:
    """The commands of the shell blocks of one file, continuation lines joined."""
    _, blocks = split_fences(path.read_text(encoding="utf-8"))
    commands = []
    for language, body in blocks:
        if language not in SHELL_LANGUAGES:
            continue
        joined = "\n".join(body).replace("\\\n", " ")
        commands += [line.strip().removeprefix("$ ") for line in joined.splitlines() if line.strip()]
    return commands


def bad_commands(path: Path, targets: set[str]) -> list[str]:
    problems = []
    for command in shell_commands(path):
        why = command_problem(command, targets)
        if why:
            problems.append(f"{path.relative_to(PROJECT_DIR)}: `{command}`: {why}")
    return problems


@pytest.mark.parametrize("path", guide_files(), ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_every_relative_link_resolves(path: Path):
    assert broken_links(path) == []


@pytest.mark.parametrize("path", guide_files(), ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_every_shell_command_names_a_real_target_subcommand_or_script(path: Path):
    assert bad_commands(path, makefile_targets()) == []


def test_the_readme_is_short_and_indexes_every_docs_page():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    linked = {(PROJECT_DIR / t.partition("#")[0]).resolve() for t in LINK.findall(readme)}
    pages = {p.resolve() for p in (PROJECT_DIR / "docs").glob("*.md")}
    assert sorted(p.name for p in pages - linked) == []


def test_the_checks_catch_a_broken_link_anchor_and_command(tmp_path: Path, monkeypatch):
    """The checkers above are not vacuous: each kind of mistake in a page is reported."""
    monkeypatch.setattr(sys.modules[__name__], "PROJECT_DIR", tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A page\n\n## Point in time (`CDP_AS_OF`)\n", encoding="utf-8")
    page = docs / "b.md"
    page.write_text(
        "# B\n[ok](a.md#point-in-time-cdp_as_of) [file](missing.md) [anchor](a.md#nowhere) [self](#b)\n"
        "`[in code](missing.md)` [web](https://example.com/x)\n"
        "```sh\nmake test-fast\nmake no-such-target\n.venv/bin/cdp sync run hubspot_contacts --dry-run\n"
        "cdp sync no-such-command\ncdp generate-data --persons many\npython no_such_script.py\nrm -rf /\n```\n"
        "```\nnot a shell block: anything goes\n```\n", encoding="utf-8")
    assert [p.split(": ", 1)[1] for p in broken_links(page)] == [
        "missing.md (no such file)", "a.md#nowhere (no heading with that anchor)"]
    problems = [p.split("`")[1] for p in bad_commands(page, {"test-fast"})]
    assert problems == ["make no-such-target", "cdp sync no-such-command", "cdp generate-data --persons many",
                        "python no_such_script.py", "rm -rf /"]
