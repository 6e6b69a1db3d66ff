"""A small synchronous REST 2.0 client for tests: seed RT and read back what it holds.

It deliberately shares no code with csconsole's adapter, so a test that reads a result
back is checking RT itself, not the adapter against its own assumptions.

The server is found through CSCONSOLE_RT_URL (default http://127.0.0.1:8089, where
tests/rt/start.sh puts it), CSCONSOLE_RT_USER and CSCONSOLE_RT_PASSWORD.
"""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import httpx

URL = os.environ.get("CSCONSOLE_RT_URL", "http://127.0.0.1:8089").rstrip("/")
USER = os.environ.get("CSCONSOLE_RT_USER", "root")
PASSWORD = os.environ.get("CSCONSOLE_RT_PASSWORD", "password")
VIEWER = "csconsole-viewer"
"""A privileged agent start.sh sets up with read rights only."""


def reachable() -> bool:
    try:
        return httpx.get(f"{URL}/REST/2.0/rt", auth=(USER, PASSWORD), timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


class RT:
    def __init__(self, user: str = USER, password: str = PASSWORD) -> None:
        self.http = httpx.Client(base_url=f"{URL}/REST/2.0", auth=(user, password), timeout=30)

    def close(self) -> None:
        self.http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    # -- seeding
    def queue(self, prefix: str = "csc") -> str:
        """A new queue of its own, so a test sees only its own tickets."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self._json("POST", "/queue", json={"Name": name})
        return name

    def customer(self, name: str = "Customer") -> str:
        """An unprivileged user who can write in, like a customer by mail; returns the email."""
        email = f"{uuid.uuid4().hex[:8]}@customers.example"
        self._json("POST", "/user", json={"Name": email, "EmailAddress": email, "RealName": name,
                                          "Password": PASSWORD})
        return email

    def ticket(self, queue: str, subject: str, *, requestor: str, content: str = "Hello", **fields: Any) -> int:
        body = {"Queue": queue, "Subject": subject, "Requestor": requestor, "Content": content,
                "ContentType": "text/plain", **fields}
        return int(self._json("POST", "/ticket", json=body)["id"])

    def update(self, ticket: int, **fields: Any) -> list[str]:
        return self._json("PUT", f"/ticket/{ticket}", json=fields)

    def correspond(self, ticket: int, content: str) -> int:
        response = self.http.post(f"/ticket/{ticket}/correspond", json={"Content": content, "ContentType": "text/plain"})
        response.raise_for_status()
        return int(response.headers["Location"].rsplit("/", 1)[-1])

    # -- reading back
    def get(self, ticket: int) -> dict[str, Any]:
        response = self.http.get(f"/ticket/{ticket}")
        response.raise_for_status()
        return {**response.json(), "ETag": response.headers["ETag"].strip('"')}

    def tickets(self, queue: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        params: Any = {"query": f"Queue = '{queue}'", "fields": "Subject,Status,Priority,Owner,LastUpdated",
                       "per_page": 100, "orderby": "id"}
        url: str | None = "/tickets"
        while url:
            data = self._json("GET", url, params=params)
            found.update({int(item["id"]): item for item in data["items"]})
            url = data["next_page"][data["next_page"].index("/tickets"):] if data.get("next_page") else None
            params = None
        return found

    def messages(self, ticket: int, kind: str) -> list[tuple[str, str]]:
        """(creator, text) of every Correspond or Comment transaction, oldest first."""
        out = []
        history = self._json("GET", f"/ticket/{ticket}/history",
                             params={"fields": "Type,Creator", "per_page": 100})["items"]
        for txn in history:
            if txn["Type"] != kind:
                continue
            detail = self._json("GET", f"/transaction/{txn['id']}")
            text = ""
            for link in detail["_hyperlinks"]:
                if link["ref"] == "attachment":
                    attachment = self._json("GET", link["_url"][link["_url"].index("/attachment/"):])
                    if attachment["ContentType"] == "text/plain":
                        text = base64.b64decode(attachment["Content"]).decode()
                        break
            out.append((txn["Creator"]["id"], text))
        return out
