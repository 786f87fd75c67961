"""FCC Broadband Data Collection outputs from the imported Sonar tables.

``tiger`` reads census tract files, ``config`` and ``technology`` map Sonar's
technology to BDC codes, ``rules`` decides each customer, ``output`` aggregates,
validates and writes the subscription file. ``run`` ties them to the store.
"""
