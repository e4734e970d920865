""".env.example documents every setting, and every value it shows is the setting's default."""

from __future__ import annotations

import re

from lakehouse.settings import REPO_ROOT, Settings

ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def _documented() -> dict[str, tuple[bool, str]]:
    """NAME -> (shown commented out, value) for each `NAME=value` line of .env.example."""
    found = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            value = match.group(3).split("  #")[0].strip()
            found[match.group(2)] = (bool(match.group(1)), value)
    return found


def _parsed(field: str, value: object) -> object:
    """The field's value when the setting is given as `value`, through the same validation."""
    settings = Settings(_env_file=None, **{field: value})
    result = getattr(settings, field)
    result = result.get_secret_value() if hasattr(result, "get_secret_value") else result
    return None if result == "" else result  # an empty value leaves an optional setting unset


def test_every_setting_is_in_env_example() -> None:
    documented = _documented()
    missing = [f.upper() for f in Settings.model_fields if f.upper() not in documented]
    assert missing == [], f"add these settings to .env.example: {missing}"


def test_every_value_shown_is_the_default() -> None:
    documented = _documented()
    wrong = {}
    for field, info in Settings.model_fields.items():
        commented, value = documented.get(field.upper(), (True, ""))
        if commented:  # an example, not the default (the code finds or builds the value)
            continue
        default = info.get_default(call_default_factory=True)
        if _parsed(field, value) != _parsed(field, default):
            wrong[field.upper()] = (value, default)
    assert wrong == {}, f".env.example shows values that are not the defaults: {wrong}"
