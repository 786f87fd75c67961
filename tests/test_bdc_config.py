"""The BDC configuration file and the technology mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonar_bdc.bdc.config import DEFAULT_FORM477, load_config, parse_config
from sonar_bdc.bdc.model import ServiceRow
from sonar_bdc.bdc.technology import TechnologyMapper, form477_code
from sonar_bdc.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "docs" / "bdc.example.toml"


def service(sid: int = 1, name: str = "Plan", code: int | None = 70, tech: str | None = None):
    return ServiceRow(sid, name, True, 25000, 3000, code, tech)


def test_no_file_means_defaults() -> None:
    config = load_config(None)
    assert dict(config.form477) == DEFAULT_FORM477
    assert config.services == () and dict(config.names) == {}


@pytest.mark.parametrize(
    ("form477", "bdc"),
    [(20, 10), (30, 10), (90, 0), (70, 70), (10, 10), (40, 40), (50, 50), (60, 60), (0, 0)],
)
def test_default_mapping(form477: int, bdc: int) -> None:
    assert TechnologyMapper(load_config(None)).map(service(code=form477)).code == bdc


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.form477[70] == 71
    assert config.services and config.business_groups and config.consumer_groups


def test_code_override_and_service_rules_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "bdc.toml"
    path.write_text(
        '[technology]\n"70" = 71\n'
        "[[technology.service]]\nid = [5, 6]\ntechnology_code = 72\n"
        '[[technology.service]]\nname_pattern = "*cbrs*"\ntechnology_code = 70\n'
        '[[technology.service]]\nname_pattern = "Fiber *"\ntechnology_code = 50\n'
    )
    mapper = TechnologyMapper(load_config(path))
    assert mapper.map(service(1, "Basic 25")).code == 71  # "70" = 71
    assert mapper.map(service(6, "CBRS 50")).code == 72  # id rule comes first
    assert mapper.map(service(7, "Rural CBRS 50")).code == 70  # glob, case-insensitive
    assert mapper.map(service(8, "fiber 1000", code=None)).code == 50
    assert mapper.map(service(9, "Fiberish", code=90)).code == 0  # glob needs the space


def test_names_for_a_v2_source() -> None:
    config = parse_config({"technology": {"names": {"Licensed_Fixed_Wireless": 71}}}, "t")
    mapper = TechnologyMapper(config)
    v2 = service(code=None, tech="LICENSED_FIXED_WIRELESS")
    assert mapper.map(v2).code == 71
    # A listed name wins over the code; a v1 numeric name is read as the code.
    assert mapper.map(service(code=70, tech="licensed_fixed_wireless")).code == 71
    assert mapper.map(service(code=None, tech="50")).code == 50
    unknown = mapper.map(service(code=None, tech="CABLE"))
    assert unknown.code is None and "CABLE = <BDC code>" in unknown.note


def test_unmapped_messages_say_what_to_add() -> None:
    mapper = TechnologyMapper(load_config(None))
    odd = mapper.map(service(code=80))
    assert odd.code is None and '"80" = <BDC code>' in odd.note
    none = mapper.map(service(sid=12, name="Mystery", code=None))
    assert none.code is None and "Mystery (service 12)" in none.note


def test_form477_code() -> None:
    assert form477_code(service(code=None, tech=" 70 ")) == 70
    assert form477_code(service(code=40, tech="FIBER")) == 40
    assert form477_code(service(code=None, tech="FIBER")) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"technology": {"70": 73}}, "is not a BDC code"),
        ({"technology": {"70": "71"}}, "is not a BDC code"),
        ({"technology": {"seventy": 71}}, "neither a Form 477 code"),
        ({"technology": {"service": [{"technology_code": 71}]}}, "exactly one of id"),
        (
            {"technology": {"service": [{"id": 1, "name_pattern": "x", "technology_code": 71}]}},
            "exactly one of id",
        ),
        ({"technology": {"service": [{"id": 1}]}}, "needs technology_code"),
        ({"technology": {"service": [{"id": "1", "technology_code": 71}]}}, "id must be"),
        ({"technology": {"service": [{"id": 1, "technology_code": 71, "ids": 2}]}}, "'ids'"),
        ({"technology": {"names": {"X": 99}}}, "is not a BDC code"),
        ({"consumer": {"business_group": ["A"]}}, "unknown key 'business_group'"),
        ({"consumer": {"business_groups": "A"}}, "must be a list"),
        ({"speed": {}}, "unknown key 'speed'"),
    ],
)
def test_invalid_configuration_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "bdc.toml")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[technology\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_config(bad)
