"""The headless core never imports Textual, and start-up stays lazy."""

import subprocess
import sys

import pytest

HEADLESS = ["csconsole.store.db", "csconsole.store.queue", "csconsole.store.ingest", "csconsole.store.outbox",
            "csconsole.store.search", "csconsole.store.tickets", "csconsole.sync.engine", "csconsole.adapters.base",
            "csconsole.adapters.demo.helpdesk", "csconsole.adapters.demo.commerce", "csconsole.config",
            "csconsole.workspace", "csconsole.cli", "csconsole.money", "csconsole.text", "csconsole.stats",
            "csconsole.commerce.actions", "csconsole.commerce.refunds", "csconsole.macros.plan"]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_modules_do_not_import_textual(module):
    code = f"import sys, {module}; print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_app_start_path_does_not_import_sqlmodel_or_httpx():
    code = ("import sys, csconsole.app, csconsole.screens.queue, csconsole.widgets.ticket_list;"
            "print(sorted(m for m in ('sqlmodel', 'sqlalchemy', 'httpx', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
