"""All SQL: DDL and migrations, COPY-staged upserts, freshness queries.

psycopg is imported only inside this package; its errors leave it as
``StoreError`` / ``StoreUnavailable``.
"""

from sonar_bdc.store.prefix import Prefix, parse_prefix
from sonar_bdc.store.report import ReportWriteResult
from sonar_bdc.store.store import Store
from sonar_bdc.store.writer import Writer

__all__ = ["Prefix", "ReportWriteResult", "Store", "Writer", "parse_prefix"]
