"""The README's CLI reference is true to the commands: every command is listed with every
option it accepts, and the README lists nothing the CLI does not have."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from src.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `polyflup ([a-z][a-z -]*?)(?: \[| `|`)(.*)$")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{path} "))
        else:
            found[path] = command
    return found


def _options(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names |= {o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")}
    return names - {"--help"}


def _reference_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            usage = re.split(r"(?<!\\)\|", line)[1]  # the usage column (\| is a pipe)
            rows[match.group(1).strip()] = usage
    return rows


COMMANDS = _commands(cli)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_is_in_the_readme_with_all_its_options(path: str) -> None:
    rows = _reference_rows()
    assert path in rows, f"`polyflup {path}` is missing from the README's CLI reference"
    listed = set(OPTION.findall(rows[path]))
    accepted = _options(COMMANDS[path])
    assert accepted - listed == set(), f"{path}: options not documented"
    assert listed - accepted == set(), f"{path}: README lists options the CLI lacks"


def test_the_readme_lists_no_command_the_cli_lacks() -> None:
    extra = set(_reference_rows()) - set(COMMANDS)
    assert extra == set()


def test_global_options_are_documented() -> None:
    text = README.read_text(encoding="utf-8")
    for option in _options(cli):
        assert option in text, option
