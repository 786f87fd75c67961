"""FCC Broadband Data Collection outputs from the imported Sonar tables.

``tiger`` reads census tract files; ``config`` and ``technology`` map Sonar's
technology to BDC codes; ``rules`` decides each customer (pure); ``output``
aggregates, validates and writes the subscription and exceptions files;
``summary`` reports; ``run`` ties them to the store (``store.filing``);
``cli_args`` adds ``sonar-bdc bdc subscription`` and ``sonar-bdc tracts load``.
See docs/bdc.md.
"""
