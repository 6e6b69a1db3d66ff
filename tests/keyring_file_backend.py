"""A keyring backend in a JSON file, for subprocess tests of `csconsole accounts`.

Select it with PYTHON_KEYRING_BACKEND=tests.keyring_file_backend.FileKeyring and name the
file in CSCONSOLE_TEST_KEYRING: a child process then has a working 'system keyring' that
the test can inspect, without touching the developer's real one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1.0

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["CSCONSOLE_TEST_KEYRING"])

    def _load(self) -> dict[str, str]:
        path = self._path()
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, entries: dict[str, str]) -> None:
        self._path().write_text(json.dumps(entries))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}/{username}"] = password
        self._save(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("no such password")
        self._save(entries)
