"""The quality gate's configuration: thresholds and expectation suites, from expectations.yml.

Adding an expectation is a YAML line: any Great Expectations core expectation by its snake_case
name with its keyword arguments. String values of the form `${name}` are replaced by a threshold
(or the built-in `current_year`), so limits live in one place.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

CONFIG_FILE = Path(__file__).with_name("expectations.yml")
_PLACEHOLDER = re.compile(r"^\$\{(\w+)\}$")

Layer = Literal["bronze", "silver", "gold"]


class ConfigError(ValueError):
    """expectations.yml is invalid; the message names the entry and what to change."""


class ExpectationSpec(BaseModel):
    type: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TableSuite(BaseModel):
    """Expectations on one lake table, read by path from its layer."""

    layer: Layer
    description: str = ""
    when: str | None = None
    expectations: list[ExpectationSpec]

    @field_validator("expectations", mode="before")
    @classmethod
    def _from_yaml_shorthand(cls, value: Any) -> Any:
        return [_spec(item) for item in value] if isinstance(value, list) else value


class CheckSuite(BaseModel):
    """Expectations on the result of a SQL query over the configured tables (cross-table rules)."""

    sql: str
    description: str = ""
    when: str | None = None
    expectations: list[ExpectationSpec]

    @field_validator("expectations", mode="before")
    @classmethod
    def _from_yaml_shorthand(cls, value: Any) -> Any:
        return [_spec(item) for item in value] if isinstance(value, list) else value


class QualityConfig(BaseModel):
    thresholds: dict[str, float | int | str] = Field(default_factory=dict)
    tables: dict[str, TableSuite]
    checks: dict[str, CheckSuite] = Field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        return {"current_year": dt.datetime.now(dt.UTC).year, **self.thresholds}

    def with_overrides(self, overrides: dict[str, float]) -> QualityConfig:
        """The thresholds of QUALITY_THRESHOLDS over the file's; only names the file defines."""
        unknown = sorted(set(overrides) - set(self.thresholds))
        if unknown:
            raise ConfigError(
                f"QUALITY_THRESHOLDS sets {unknown}, which {CONFIG_FILE.name} does not define"
                f" (its thresholds: {sorted(self.thresholds)}): fix the name in the environment"
                " or .env."
            )
        return self.model_copy(update={"thresholds": {**self.thresholds, **overrides}})

    def thresholds_in(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The thresholds that an expectation's `${name}` arguments name, with their values."""
        names = [m.group(1) for v in kwargs.values()
                 if isinstance(v, str) and (m := _PLACEHOLDER.match(v))]
        return {name: self.thresholds[name] for name in names if name in self.thresholds}

    def resolve(self, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
        """Replace `${name}` placeholders by threshold values."""
        variables = self.variables()
        resolved = {}
        for key, value in kwargs.items():
            match = _PLACEHOLDER.match(value) if isinstance(value, str) else None
            if match:
                if match.group(1) not in variables:
                    raise ConfigError(
                        f"{where}: `{value}` names no threshold; define `{match.group(1)}` under "
                        f"`thresholds:` in {CONFIG_FILE.name} (known: {sorted(variables)})."
                    )
                value = variables[match.group(1)]
            resolved[key] = value
        return resolved


def _spec(item: Any) -> Any:
    """`- expect_x: {column: c}` (shorthand) or `- {type: expect_x, kwargs: {...}}`."""
    if isinstance(item, dict) and len(item) == 1 and "type" not in item:
        ((name, kwargs),) = item.items()
        return {"type": name, "kwargs": kwargs or {}}
    return item


def load_config(path: Path = CONFIG_FILE) -> QualityConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from exc
    try:
        return QualityConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path} is invalid:\n{exc}") from exc
