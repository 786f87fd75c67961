"""Talking to Sonar **v2** (GraphQL): transport, queries, paging, parsing into records.

``GraphQLClient`` is the entry point; it returns the same records as the v1 client
(``sonar_bdc.records``), one :class:`AccountPage` of :class:`V2Account` at a time.
Modules: ``config``, ``transport`` (one POST), ``queries`` (documents), ``paging``,
``complete`` (nested lists cut short), ``parse`` (JSON -> records), ``technology``
(enum names -> Form 477 codes), ``client`` (the facade).
"""

from .client import AccountPage, GraphQLClient
from .config import TOKEN_SETTING, GraphQLConfig
from .parse import V2Account
from .technology_names import BUILT_IN, TechnologyTable, parse_name_table
from .transport import GraphQLErrors

__all__ = [
    "BUILT_IN",
    "TOKEN_SETTING",
    "AccountPage",
    "GraphQLClient",
    "GraphQLConfig",
    "GraphQLErrors",
    "TechnologyTable",
    "V2Account",
    "parse_name_table",
]
