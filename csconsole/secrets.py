"""Tokens and passwords: in the system keyring, or an environment variable on headless boxes.

Never in the config file, the cache, logs or error messages. The environment fallback is
``CSCONSOLE_SECRET_<ACCOUNT>`` (account name upper-cased, other characters as '_'), for
servers and CI where no keyring backend exists; the messages here say so plainly instead
of ending in a traceback.
"""

from __future__ import annotations

import os
import re

SERVICE = "csconsole"


class SecretError(Exception):
    pass


def env_name(account: str) -> str:
    return "CSCONSOLE_SECRET_" + re.sub(r"[^A-Z0-9]", "_", account.upper())


def missing(account: str) -> str:
    """What to do about an account in the config whose token is nowhere (`add` refuses an
    account that already exists, so it is not the whole answer)."""
    return (f"no token for account {account!r}: set {env_name(account)}, or store one in the keyring with"
            f" `csconsole accounts remove {account}` then `csconsole accounts add {account} ...`")


def _keyring():
    try:
        import keyring
        from keyring.backends import fail
        from keyring.errors import KeyringError
    except Exception:  # keyring missing or broken: behave as 'no backend'
        return None, Exception
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or "fail" in type(backend).__module__ or "null" in type(backend).__module__:
        return None, KeyringError
    return keyring, KeyringError


def keyring_available() -> bool:
    return _keyring()[0] is not None


def get(account: str) -> str | None:
    """The secret for an account: the environment variable wins, then the keyring."""
    value = os.environ.get(env_name(account))
    if value:
        return value
    keyring, error = _keyring()
    if keyring is None:
        return None
    try:
        return keyring.get_password(SERVICE, account)
    except error:
        return None


def where(account: str) -> str:
    """Where a secret would be found, for messages (never the secret itself)."""
    if os.environ.get(env_name(account)):
        return f"environment variable {env_name(account)}"
    return "system keyring" if keyring_available() else "nowhere (no keyring backend, no environment variable)"


def store(account: str, secret: str) -> str:
    """Keep a secret in the keyring; explain the fallback when there is no keyring."""
    keyring, error = _keyring()
    if keyring is None:
        raise SecretError(
            "no system keyring is available on this machine (headless?). Set the environment variable "
            f"{env_name(account)} to the token instead, for example in your shell profile or service unit.")
    try:
        keyring.set_password(SERVICE, account, secret)
    except error as exc:
        raise SecretError(f"the keyring refused to store the secret: {type(exc).__name__}") from None
    return "system keyring"


def delete(account: str) -> bool:
    keyring, error = _keyring()
    if keyring is None:
        return False
    try:
        keyring.delete_password(SERVICE, account)
        return True
    except error:
        return False
