"""Reading a settings file written in YAML, with one-line errors that name the file.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "w.yaml"
>>> _ = p.write_text("cab: {min_level: low}\\n")
>>> read_mapping(p, "risk weights")
{'cab': {'min_level': 'low'}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cmdb.errors import ConfigError

__all__ = ["read_mapping"]


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``; :class:`ConfigError` naming ``what``
    and the file when it cannot be read, is not YAML or is not a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level")
    return data
