"""Every `cdp` command and option explains itself in `--help`: a new user reads the help before the docs."""

from __future__ import annotations

import argparse

from cdp.cli import build_parser


def undocumented(parser: argparse.ArgumentParser, path: str = "cdp") -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name not in helped:
                    missing.append(f"{path} {name} (command)")
                missing += undocumented(sub, f"{path} {name}")
        elif not action.help and not isinstance(action, argparse._HelpAction):
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help_text():
    assert undocumented(build_parser()) == []


def test_the_check_finds_an_option_without_help():
    parser = build_parser()
    parser.add_argument("--planted")
    assert undocumented(parser) == ["cdp --planted"]
