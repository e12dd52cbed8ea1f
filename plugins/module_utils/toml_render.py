"""Render a dict as TOML (the subset configuration files use).

Python has a TOML reader (tomllib) but no writer, and containerd's
configuration is a dict rendered whole: tables, arrays, strings, numbers and
booleans. Keys are emitted in sorted order so the output is stable
(idempotent templates). Dotted or quoted keys are quoted when needed.
"""

import datetime
import re

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class TomlError(ValueError):
    pass


def _key(key):
    key = str(key)
    return key if _BARE_KEY.match(key) else _string(key)


def _string(value):
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: "\\u%04x" % ord(m.group(0)), escaped)
    return '"%s"' % escaped


def _value(value, path):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item, path) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s = %s" % (_key(k), _value(v, path)) for k, v in sorted(value.items())) + "}"
    if value is None:
        raise TomlError("%s: TOML has no null; remove the key or give a value" % ".".join(path))
    raise TomlError("%s: cannot render %s as TOML" % (".".join(path), type(value).__name__))


def _table(data, path, lines):
    scalars = [(k, v) for k, v in sorted(data.items(), key=lambda kv: str(kv[0])) if not isinstance(v, dict)]
    tables = [(k, v) for k, v in sorted(data.items(), key=lambda kv: str(kv[0])) if isinstance(v, dict)]
    if path and (scalars or not tables):
        if lines:
            lines.append("")
        lines.append("[%s]" % ".".join(_key(p) for p in path))
    for key, value in scalars:
        lines.append("%s = %s" % (_key(key), _value(value, path + [str(key)])))
    for key, value in tables:
        _table(value, path + [str(key)], lines)


def to_toml(data: dict) -> str:
    """Return ``data`` (a dict) as a TOML document."""
    if not isinstance(data, dict):
        raise TomlError("the top level of a TOML document is a table (dict), got %s" % type(data).__name__)
    lines = []
    _table(data, [], lines)
    return "\n".join(lines) + "\n"
