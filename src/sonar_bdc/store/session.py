"""What every write needs: the connection, prefix, staging, batch sizes, commit/rollback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from sonar_bdc.store.db import Transactions
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.staging import Staging
from sonar_bdc.store.timing import DbClock


@dataclass
class Session:
    conn: psycopg.Connection
    prefix: Prefix
    batch_size: int
    commit_interval: int
    dry_run: bool
    tx: Transactions = field(init=False)
    staging: Staging = field(init=False)
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    on_rollback: list[Callable[[], None]] = field(default_factory=list)
    clock: DbClock = field(default_factory=DbClock)  # read by Store.db_seconds

    def __post_init__(self) -> None:
        self.tx = Transactions(self.conn, self.dry_run)
        self.staging = Staging(self.conn)

    def commit(self) -> None:
        """Make everything so far durable (in a dry run: only for this session)."""
        self.tx.commit()
        for callback in self.on_commit:
            callback()

    def rollback(self, *, quiet: bool = False) -> None:
        """Undo everything since the last commit; ``quiet`` on error paths keeps their error."""
        try:
            self.tx.rollback()
        except psycopg.Error:
            if not quiet:
                raise
        finally:
            self.staging.reset()
            for callback in self.on_rollback:
                callback()
