"""Where csconsole keeps its files.

The config file and the data folder live in the platform's usual places (platformdirs);
both can be moved with a command-line flag or an environment variable, so that tests and
scripts never touch a person's real home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_ENV = "CSCONSOLE_CONFIG"
DATA_ENV = "CSCONSOLE_DATA_DIR"
APP_NAME = "csconsole"


@dataclass(frozen=True)
class Paths:
    """The two places csconsole reads and writes."""

    config_file: Path
    data_dir: Path

    def workspace_db(self, workspace: str) -> Path:
        """One SQLite cache per workspace."""
        return self.data_dir / "workspaces" / f"{workspace}.sqlite"

    def demo_backend_db(self, workspace: str) -> Path:
        """The demo helpdesk and store keep their own 'remote' database."""
        return self.data_dir / "demo" / f"{workspace}-backend.sqlite"

    @property
    def user_macros_dir(self) -> Path:
        return self.config_file.parent / "macros"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "csconsole.log"


def resolve(config: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Flag beats environment variable beats the platform default."""
    config_value = config or os.environ.get(CONFIG_ENV)
    data_value = data_dir or os.environ.get(DATA_ENV)
    if config_value:
        config_file = Path(config_value).expanduser()
    else:
        import platformdirs

        config_file = Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"
    if data_value:
        data_path = Path(data_value).expanduser()
    else:
        import platformdirs

        data_path = Path(platformdirs.user_data_dir(APP_NAME))
    return Paths(config_file=config_file, data_dir=data_path)
