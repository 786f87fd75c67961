"""README's "Command line options" table and ``sonar-bdc import``'s parser cannot drift.

Every option in one is in the other, the choices listed are argparse's, and every
default the table states is the one ``Settings`` (hence ``--help``) has.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sonar_bdc.cli import build_parser
from sonar_bdc.settings import MAX_DAYS, Settings

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### Command line options"


@dataclass(frozen=True)
class Row:
    options: tuple[str, ...]  # as written: "-w", "--workers"
    choices: tuple[str, ...]  # from "`--api v1\|v2`", else ()
    description: str


def table_rows(text: str, heading: str = SECTION) -> list[Row]:
    """The rows of the table under ``heading`` (up to the next heading)."""
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue  # the header, its rule, prose
        first, description = re.split(r"(?<!\\)\|", line.strip().strip("|"), maxsplit=1)
        options, choices = [], ()
        for cell in re.findall(r"`([^`]+)`", first):
            name, _, rest = cell.partition(" ")
            options.append(name)
            if "\\|" in rest:
                choices = tuple(rest.split("\\|"))
        rows.append(Row(tuple(options), choices, description.strip(" |")))
    return rows


def import_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices["import"]


def parser_options() -> dict[str, argparse.Action]:
    return {
        option: action
        for action in import_parser()._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    }


def stated_default(description: str) -> str | None:
    """What "(default: X" or "(default: `X`" says, or None when the row states none."""
    found = re.search(r"\(default: `?([^`;,)]+)`?", description)
    return None if found is None else found.group(1).strip()


def same(stated: str, value: object) -> bool:
    if value is None:
        return stated == "off"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(stated) == value
    return stated == value


ROWS = table_rows(README.read_text(encoding="utf-8"))


def test_the_table_has_every_option_of_sonar_bdc_import_and_no_other() -> None:
    in_readme = [option for row in ROWS for option in row.options]
    assert len(in_readme) == len(set(in_readme)), "an option is in the table twice"
    assert sorted(in_readme) == sorted(parser_options())


def test_each_row_names_one_option_with_its_short_form() -> None:
    options = parser_options()
    for row in ROWS:
        assert {id(options[o]) for o in row.options} == {id(options[row.options[0]])}, row
        assert set(row.options) == set(options[row.options[0]].option_strings), row


@pytest.mark.parametrize("row", [r for r in ROWS if r.choices], ids=lambda r: r.options[-1])
def test_the_choices_listed_are_the_parsers(row: Row) -> None:
    assert row.choices == tuple(parser_options()[row.options[0]].choices or ())


@pytest.mark.parametrize(
    "row", [r for r in ROWS if stated_default(r.description)], ids=lambda r: r.options[-1]
)
def test_every_default_stated_is_the_settings_default(row: Row) -> None:
    dest = parser_options()[row.options[0]].dest
    stated = stated_default(row.description)
    assert stated is not None and same(stated, getattr(Settings(), dest)), (stated, dest)


def test_every_option_taking_a_value_with_a_default_states_it() -> None:
    settings = Settings()
    valued = {
        action.option_strings[-1]
        for action in parser_options().values()
        if action.nargs != 0 and getattr(settings, action.dest, None) is not None
    }
    stated = {row.options[-1] for row in ROWS if stated_default(row.description)}
    assert valued - stated == set()


def test_the_days_limit_stated_is_the_one_enforced() -> None:
    (days,) = [row for row in ROWS if "--days" in row.options]
    assert f"at most {MAX_DAYS}" in days.description


FABRIC_LOAD_SECTION = "### `sonar-bdc fabric load` options"


def fabric_load_options() -> dict[str, argparse.Action]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    fabric = commands.choices["fabric"]
    (subs,) = [a for a in fabric._actions if isinstance(a, argparse._SubParsersAction)]
    return {
        option: action
        for action in subs.choices["load"]._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    }


def subcommand_options(*path: str) -> set[str]:
    parser = build_parser()
    for name in path:
        (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[name]
    return {
        option
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    }


def test_the_fabric_load_table_has_every_option_of_its_parser_and_no_other() -> None:
    rows = table_rows(README.read_text(encoding="utf-8"), FABRIC_LOAD_SECTION)
    options = fabric_load_options()
    in_readme = [option for row in rows for option in row.options]
    assert sorted(in_readme) == sorted(options)
    for row in rows:
        assert set(row.options) == set(options[row.options[0]].option_strings), row


def test_the_fabric_match_table_has_every_option_and_no_other() -> None:
    rows = table_rows(README.read_text(encoding="utf-8"), "### `fabric match` options")
    in_readme = [option for row in rows for option in row.options]
    assert sorted(in_readme) == sorted(subcommand_options("fabric", "match"))
