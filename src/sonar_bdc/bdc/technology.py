"""Sonar's technology of a service -> the BDC technology code.

Precedence, first that applies:

1. a ``[[technology.service]]`` rule matching the service id or name (file order);
2. ``[technology.names]`` for the source's technology name (a v2 enum name), when
   that name is listed there;
3. the Form 477 code (``technology_code``, else a numeric ``technology_name``)
   through the defaults and their ``[technology]`` overrides;
4. otherwise the service is unmapped, with a message that says what to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from .config import BdcConfig, ServiceRule
from .model import ServiceRow


@dataclass(frozen=True, slots=True)
class Mapped:
    """A BDC code (None: unmapped) and how it was found, or why not."""

    code: int | None
    note: str


class TechnologyMapper:
    def __init__(self, config: BdcConfig) -> None:
        self.config = config

    def map(self, service: ServiceRow) -> Mapped:
        rule = self._rule(service)
        if rule is not None:
            return Mapped(rule.technology_code, "service rule")
        name = (service.technology_name or "").strip()
        if name and name_key(service) in self.config.names:
            return Mapped(self.config.names[name_key(service)], "technology name")
        code = form477_code(service)
        if code is not None:
            return self._by_code(code)
        if name:
            return Mapped(
                None,
                f"technology name {name!r} is not in [technology.names] of "
                f"{self.config.source}; add {_toml_key(name)} = <BDC code> there "
                "(a --config file)",
            )
        return Mapped(
            None,
            f"{service.label()} has no technology code; add a [[technology.service]] rule "
            f"for it to {self.config.source}",
        )

    def _rule(self, service: ServiceRow) -> ServiceRule | None:
        return next((r for r in self.config.services if rule_matches(r, service)), None)

    def _by_code(self, code: int) -> Mapped:
        bdc = self.config.form477.get(code)
        if bdc is None:
            return Mapped(
                None,
                f'Form 477 code {code} has no BDC mapping; add "{code}" = <BDC code> to '
                f"[technology] in {self.config.source}",
            )
        return Mapped(bdc, "Form 477 code")


def rule_matches(rule: ServiceRule, service: ServiceRow) -> bool:
    """By service id, or the name glob on the whole name, ignoring case."""
    if service.service_id in rule.ids:
        return True
    pattern = rule.name_pattern
    return pattern is not None and fnmatchcase((service.name or "").casefold(), pattern.casefold())


def name_key(service: ServiceRow) -> str:
    """The ``[technology.names]`` key a service's technology name is looked up by."""
    return (service.technology_name or "").strip().casefold()


def form477_code(service: ServiceRow) -> int | None:
    """The numeric code the source sent: technology_code, else a numeric name (v1)."""
    if service.technology_code is not None:
        return service.technology_code
    name = (service.technology_name or "").strip()
    return int(name) if name.isdigit() else None


def _toml_key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
