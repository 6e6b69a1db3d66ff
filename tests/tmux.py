"""Run the real `csconsole` in a real terminal (tmux) and read what a person would see."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest


class Terminal:
    def __init__(self, width: int = 160, height: int = 45) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed")
        self.socket = f"cs-{uuid.uuid4().hex[:8]}"
        self.session = "t"
        self.width, self.height = width, height

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def start(self, args: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        command = f"env -i {exports} {_quote(sys.executable)} -m csconsole {' '.join(_quote(a) for a in args)}"
        # Size the pane first, then start the program in it: a program started while tmux is
        # still resizing can miss the SIGWINCH and draw at 80x24.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.session, "-x", str(self.width), "-y",
                  str(self.height), "sleep 600")
        self.tmux("set-option", "-t", self.session, "status", "off")
        self.tmux("respawn-pane", "-k", "-t", self.session, "sh", "-c", command + "; echo EXITED-$?; sleep 60")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.session, key)
            # A lone ESC followed quickly by a key reads as alt+key in every terminal.
            time.sleep(0.3 if key == "Escape" else 0.05)

    def type(self, text: str) -> None:
        """Type text literally (no key names)."""
        self.tmux("send-keys", "-t", self.session, "-l", text)
        time.sleep(0.1)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def csconsole_env(tmp: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("CSCONSOLE_CONFIG", "CSCONSOLE_DATA_DIR", "CSCONSOLE_FROZEN_TIME", "HOME",
                                      "PYTHON_KEYRING_BACKEND", "PATH") if k in os.environ}
    env["TERM"] = "xterm-256color"
    env["COLORTERM"] = "truecolor"
    return env
