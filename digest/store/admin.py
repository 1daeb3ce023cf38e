"""What ``digest store`` does: upgrade a store's schema, and say where it stands."""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.store.schema import MIGRATIONS, Migration
from digest.store.url import StoreURL

__all__ = ["StoreStatus", "store_status", "upgrade_store"]


@dataclass(frozen=True)
class StoreStatus:
    """A store's backend, masked URL and schema: applied migrations and those to run."""

    url: StoreURL
    applied: list[Migration] = field(default_factory=list)
    pending: list[Migration] = field(default_factory=list)

    def lines(self, upgrade: str = "digest store upgrade") -> list[str]:
        """The status as lines for a terminal (the URL's password masked).

        ``upgrade`` is the command to suggest when migrations are to run.
        """
        if self.url.backend == "sqlite":
            where = self.url.path or "files beside the config"
            return [
                f"store: SQLite ({where})",
                "schema: each file upgrades itself when it is opened",
            ]
        newest = self.applied[-1].version if self.applied else 0
        out = [
            f"store: PostgreSQL ({self.url})",
            f"schema: version {newest} of {MIGRATIONS[-1].version}",
        ]
        out += [f"  to apply: {m.version} ({m.name})" for m in self.pending]
        if self.pending:
            out.append(f"run: {upgrade}")
        return out


def store_status(url: StoreURL) -> StoreStatus:
    """Where the store ``url`` names stands (a ``StoreError`` if it cannot be reached)."""
    if url.backend == "sqlite":
        return StoreStatus(url)
    from digest.store.postgres import PostgresStore

    store = PostgresStore(url)
    try:
        schema = store.status()
    finally:
        store.close()
    return StoreStatus(url, schema.applied, schema.pending)


def upgrade_store(url: StoreURL) -> list[Migration]:
    """Apply the migrations ``url``'s store lacks; the ones applied (none on SQLite)."""
    if url.backend == "sqlite":
        return []
    from digest.store.postgres import PostgresStore

    store = PostgresStore(url)
    try:
        return store.upgrade()
    finally:
        store.close()
