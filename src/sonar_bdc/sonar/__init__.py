"""Talking to Sonar: the only package that speaks HTTP.

One folder per API version, each a client over the shared layer here (as dlt's
``destinations/impl/<name>/``):

- ``v1/``: REST lists and the contact-information report (``v1.SonarClient``);
- ``v2/``: GraphQL (``v2.GraphQLClient``);
- shared: ``http`` (the libcurl connection pool), ``base`` (the client and transport
  bases: send, retry, lifecycle), ``retry``, ``limiter``, ``stats``, ``config`` (the
  connection settings and their checks), ``paging`` (the one paging loop and repeat
  guard), ``parse`` and ``values`` (parse helpers both versions use).

Nothing is re-exported here: importing ``sonar`` loads neither version.
"""
