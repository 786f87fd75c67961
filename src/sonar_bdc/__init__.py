"""sonar-bdc: import Sonar billing data into PostGIS and build FCC BDC filings."""

__version__ = "0.1.0"
