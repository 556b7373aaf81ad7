"""Build hook: the web console's third-party browser files come from npm at build time.

``build_py`` (run by ``pip install``, editable or not, and by ``python -m build``) first runs
``npm ci`` in ``api/console`` (``package.json`` and its lockfile pin every version and hash) and
copies the files ``api/console/vendor.json`` names into ``api/console/static/vendor``, which is
package data and never committed. It is skipped when the copied files match the lockfile (a
stamp). Without npm the install still succeeds and warns: the console then says that its graph
library is missing (``CMDB_CONSOLE_REQUIRED=1`` makes that an error, as CI does). Everything
else about the package is in ``pyproject.toml``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONSOLE = Path(__file__).resolve().parent / "api" / "console"


def _stamp() -> str:
    digest = hashlib.sha256()
    for name in ("package-lock.json", "vendor.json"):
        digest.update((CONSOLE / name).read_bytes())
    return digest.hexdigest()


def build_console() -> None:
    """Install the console's npm packages and copy their browser files into the package."""
    vendor = CONSOLE / "static" / "vendor"
    files: dict[str, str] = json.loads((CONSOLE / "vendor.json").read_text())["files"]
    stamp = _stamp()
    stamp_file = vendor / ".stamp"
    if (
        stamp_file.is_file()
        and stamp_file.read_text() == stamp
        and all((vendor / name).is_file() for name in files)
    ):
        return
    npm = shutil.which("npm")
    if npm is None:
        message = "npm not found: the web console is installed without its graph library"
        if os.environ.get("CMDB_CONSOLE_REQUIRED") == "1":
            raise SystemExit(f"error: {message} (CMDB_CONSOLE_REQUIRED=1)")
        print(f"warning: {message}", file=sys.stderr)
        return
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CONSOLE,
        check=True,
        stdout=sys.stderr,
    )
    staging = vendor.with_name("vendor.new")
    shutil.rmtree(staging, ignore_errors=True)
    for name, source in files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CONSOLE / "node_modules" / source, target)
    (staging / ".stamp").write_text(stamp)
    shutil.rmtree(vendor, ignore_errors=True)
    staging.rename(vendor)


class BuildPy(build_py):
    """``build_py`` that builds the console's vendor files first."""

    def run(self) -> None:
        build_console()
        super().run()


setup(cmdclass={"build_py": BuildPy})
