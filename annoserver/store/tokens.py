"""Bearer tokens: minted at random, stored as SHA-256 digests, checked in constant time.

The secret is shown once, at creation. A revoked token is refused by every worker at once
because each check reads the database (there is no per-process token cache to go stale).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from annoserver.store.tables import TokenRow

SCOPES = ("read", "write", "admin")
# A scope grants itself and every scope listed after it.
GRANTS = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}
PREFIX = "anno_"


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never its secret."""

    id: int
    name: str
    scope: str
    created: datetime
    revoked: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Create, list, revoke and verify bearer tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, scope: str, name: str = "") -> tuple[TokenInfo, str]:
        """Mint a token; return its info and the secret (shown once, never stored)."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
        secret = PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(name=name or scope, scope=scope, digest=_digest(secret),
                       created=datetime.now(UTC))
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return _info(row), secret

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first."""
        with Session(self._engine) as session:
            return [_info(row) for row in session.scalars(select(TokenRow).order_by(TokenRow.id))]

    def revoke(self, token_id: int) -> bool:
        """Revoke a token; return False when no live token has this id."""
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            result = session.execute(update(TokenRow).where(
                TokenRow.id == token_id, TokenRow.revoked.is_(None)).values(
                revoked=datetime.now(UTC)))
        return result.rowcount == 1

    def scopes_of(self, secret: str) -> set[str]:
        """The scopes a presented secret grants (empty when unknown or revoked)."""
        holder = self.holder(secret)
        return GRANTS[holder.scope] if holder else set()

    def holder(self, secret: str) -> TokenInfo | None:
        """The live token a presented secret is (None when unknown or revoked)."""
        digest = _digest(secret)
        with Session(self._engine) as session:
            row = session.scalars(select(TokenRow).where(TokenRow.digest == digest)).first()
        # The lookup is by digest; compare again in constant time so no timing difference
        # depends on how much of a guessed secret was right.
        if row is None or row.revoked is not None or not hmac.compare_digest(row.digest, digest):
            return None
        return _info(row)


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.scope, row.created, row.revoked)
