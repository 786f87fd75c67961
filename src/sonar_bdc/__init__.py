"""sonar-bdc: import Sonar billing data into PostGIS and build FCC BDC filings."""

# The one version number; its minor is the database schema version (see CHANGELOG.md).
__version__ = "0.7.0"
