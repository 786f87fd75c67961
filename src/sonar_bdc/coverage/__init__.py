"""The filer's coverage areas: read polygon files, store them with their offer, list, remove.

``reader`` reads GeoJSON, shapefiles and GeoPackages (pyogrio, which bundles GDAL) and
names each file's coordinate reference system (pyproj); ``run`` loads, lists and removes
through ``store.coverage``; ``cli_args`` adds ``sonar-bdc coverage``. The availability
file that uses them is ``bdc.availability``. See docs/bdc.md.
"""
