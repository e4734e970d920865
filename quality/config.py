"""The quality gate's configuration: thresholds and expectation suites, from expectations.yml.

Adding an expectation is a YAML line: any Great Expectations core expectation by its snake_case
name with its keyword arguments. String values of the form `${name}`, also inside lists and
mappings, are replaced by a threshold (or the built-in `current_year`), so limits live in one place.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_FILE = Path(__file__).with_name("expectations.yml")
_PLACEHOLDER = re.compile(r"^\$\{(\w+)\}$")
# Anything that looks like a placeholder: one that is not a whole `${name}` value is never
# replaced, and would reach Great Expectations as a literal string.
_ANY_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")

Layer = Literal["bronze", "silver", "gold"]


class ConfigError(ValueError):
    """expectations.yml is invalid; the message names the entry and what to change."""


class ExpectationSpec(BaseModel):
    type: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TableSuite(BaseModel):
    """Expectations on one lake table, read by path from its layer.

    Always run: `when:` is a check's condition only. An unknown key is refused rather than
    ignored, so a misplaced `when:` or a misspelt key cannot silently change what is checked."""

    model_config = ConfigDict(extra="forbid")

    layer: Layer
    description: str = ""
    expectations: list[ExpectationSpec]

    @model_validator(mode="before")
    @classmethod
    def _no_condition(cls, value: Any) -> Any:
        if isinstance(value, dict) and "when" in value:
            raise ValueError(
                "`when:` applies to checks only; a table suite always runs. Remove it, or put"
                " the expectations that depend on the condition in a check (`checks:`) with"
                " that `when:`."
            )
        return value

    @field_validator("expectations", mode="before")
    @classmethod
    def _from_yaml_shorthand(cls, value: Any) -> Any:
        return [_spec(item) for item in value] if isinstance(value, list) else value


class CheckSuite(BaseModel):
    """Expectations on the result of a SQL query over the configured tables (cross-table rules)."""

    # A misspelt `when:` would otherwise make a conditional check run always.
    model_config = ConfigDict(extra="forbid")

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
        names = [m.group(1) for v in _strings(kwargs) if (m := _PLACEHOLDER.match(v))]
        return {name: self.thresholds[name] for name in names if name in self.thresholds}

    def resolve(self, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
        """Replace `${name}` placeholders by threshold values, also inside lists and mappings
        (`value_set: [0, "${max_key}"]`); a placeholder that cannot be replaced is an error."""
        variables = self.variables()
        return {key: _resolved(value, variables, where) for key, value in kwargs.items()}


def _strings(value: Any) -> list[str]:
    """Every string in an argument's value, nested lists and mappings included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _resolved(value: Any, variables: dict[str, Any], where: str) -> Any:
    if isinstance(value, list):
        return [_resolved(item, variables, where) for item in value]
    if isinstance(value, dict):
        return {key: _resolved(item, variables, where) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    if match := _PLACEHOLDER.match(value):
        if match.group(1) not in variables:
            raise ConfigError(
                f"{where}: `{value}` names no threshold; define `{match.group(1)}` under "
                f"`thresholds:` in {CONFIG_FILE.name} (known: {sorted(variables)})."
            )
        return variables[match.group(1)]
    if found := _ANY_PLACEHOLDER.search(value):
        raise ConfigError(
            f"{where}: `{found.group(0)}` in `{value}` is not replaced: a threshold is the whole"
            " value, `${name}` with a name of letters, digits and _ (e.g. min_value:"
            f' "${{min_release_year}}"), defined under `thresholds:` in {CONFIG_FILE.name}'
            f" (known: {sorted(variables)})."
        )
    return value


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
