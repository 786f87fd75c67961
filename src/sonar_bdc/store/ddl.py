"""Versioned DDL: each schema version is a list of idempotent statements.

A fresh database runs every version in order, exactly like an old one being
upgraded, so the upgrade path is the path every test exercises. Versions are
frozen once released: change the schema by appending a version, never by
editing an old one.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

from sonar_bdc.store.prefix import Prefix

SCHEMA_VERSION_KEY = "schema_version"


def _fmt(template: str, prefix: Prefix, **tables: str) -> sql.Composed:
    """Fill each ``{placeholder}`` with the qualified identifier of the table it names."""
    idents = {key: prefix.table(table) for key, table in tables.items()}
    return sql.SQL(template).format(**idents)


def _index(prefix: Prefix, table: str, suffix: str) -> sql.Identifier:
    return sql.Identifier(prefix.name(f"{table}_{suffix}"))


def geom_index_name(prefix: Prefix) -> str:
    return prefix.name("customers_geom_idx")


def geom_index_sql(prefix: Prefix) -> sql.Composed:
    """The GiST index on customers.geom (v1; also rebuilt after a first load)."""
    return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
        sql.Identifier(geom_index_name(prefix)), prefix.table("customers")
    )


def drop_geom_index_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("DROP INDEX IF EXISTS {}").format(
        sql.Identifier(prefix.schema_name, geom_index_name(prefix))
    )


def schema_v1(prefix: Prefix) -> list[sql.Composed]:
    """The base tables of the issue."""
    return [
        _fmt(
            "CREATE TABLE IF NOT EXISTS {metadata} ("
            " key text PRIMARY KEY, value text,"
            " updated_at timestamptz NOT NULL DEFAULT now())",
            prefix,
            metadata="metadata",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {customers} ("
            " id bigint PRIMARY KEY, name text, status text,"
            " address text, street2 text, city text, state text, zip text, plus4 text,"
            " country text, source text,"
            " latitude double precision, longitude double precision,"
            " geom geometry(Point, 4326), account_type_id bigint, fips text,"
            " updated_at timestamptz, last_seen_at timestamptz)",
            prefix,
            customers="customers",
        ),
        geom_index_sql(prefix),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {groups} (id bigint PRIMARY KEY, name text)",
            prefix,
            groups="groups",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {customer_groups} ("
            " customer_id bigint NOT NULL REFERENCES {customers} (id) ON DELETE CASCADE,"
            " group_id bigint NOT NULL,"
            " PRIMARY KEY (customer_id, group_id))",
            prefix,
            customer_groups="customer_groups",
            customers="customers",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {services} ("
            " customer_id bigint NOT NULL REFERENCES {customers} (id) ON DELETE CASCADE,"
            " service_id bigint NOT NULL, name text, data_service boolean,"
            " download_kbps bigint, upload_kbps bigint, technology_code integer,"
            " quantity integer,"
            " PRIMARY KEY (customer_id, service_id))",
            prefix,
            services="services",
            customers="customers",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {inventory_items} ("
            " id bigint PRIMARY KEY, inventory_model_id bigint, model_name text,"
            " manufacturer_id bigint, manufacturer_name text, status text,"
            " mac_address text)",
            prefix,
            inventory_items="inventory_items",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {customer_inventory} ("
            " customer_id bigint NOT NULL REFERENCES {customers} (id) ON DELETE CASCADE,"
            " inventory_item_id bigint NOT NULL,"
            " PRIMARY KEY (customer_id, inventory_item_id))",
            prefix,
            customer_inventory="customer_inventory",
            customers="customers",
        ),
    ]


def schema_v2(prefix: Prefix) -> list[sql.Composed]:
    """Account status and freshness columns, catalogs, services.technology_name."""
    return [
        _fmt(
            "ALTER TABLE {customers}"
            " ADD COLUMN IF NOT EXISTS account_status_id bigint,"
            " ADD COLUMN IF NOT EXISTS inventory_updated_at timestamptz,"
            " ADD COLUMN IF NOT EXISTS deleted_at timestamptz,"
            " ADD COLUMN IF NOT EXISTS created_at timestamptz",
            prefix,
            customers="customers",
        ),
        # Rows that predate v2 keep created_at NULL (unknown); new rows get the time.
        _fmt(
            "ALTER TABLE {customers} ALTER COLUMN created_at SET DEFAULT now()",
            prefix,
            customers="customers",
        ),
        # Every run rewrites every listed customer (last_seen_at, then the detail
        # stamps): free room on each page lets those updates stay on the page (HOT)
        # instead of inserting into the GiST and primary key indexes (2x faster).
        _fmt("ALTER TABLE {customers} SET (fillfactor = 60)", prefix, customers="customers"),
        _fmt(
            "ALTER TABLE {services} ADD COLUMN IF NOT EXISTS technology_name text",
            prefix,
            services="services",
        ),
        # v1 sources sent the technology as a number: its text is what they sent.
        _fmt(
            "UPDATE {services} SET technology_name = technology_code::text"
            " WHERE technology_name IS NULL AND technology_code IS NOT NULL",
            prefix,
            services="services",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {account_statuses} ("
            " id bigint PRIMARY KEY, name text, active boolean)",
            prefix,
            account_statuses="account_statuses",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {account_types} ("
            " id bigint PRIMARY KEY, name text, type text)",
            prefix,
            account_types="account_types",
        ),
        # "Which account has this device?" (the filing itself reads by customer).
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (inventory_item_id)").format(
            _index(prefix, "customer_inventory", "item_idx"), prefix.table("customer_inventory")
        ),
    ]


def schema_v3(prefix: Prefix) -> list[sql.Composed]:
    """A record of every import run and every filing written, for the filing's checks."""
    return [
        _fmt(
            "CREATE TABLE IF NOT EXISTS {import_runs} ("
            " id bigserial PRIMARY KEY,"
            " started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,"
            " api text NOT NULL, parts text[] NOT NULL,"
            " options jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
            " outcome text NOT NULL DEFAULT 'running' CHECK (outcome IN"
            " ('running', 'complete', 'failed_customers', 'interrupted', 'error')),"
            " listed integer, new integer, updated integer, failed integer, deleted integer,"
            " failed_ids bigint[], message text)",
            prefix,
            import_runs="import_runs",
        ),
        _fmt(
            "CREATE TABLE IF NOT EXISTS {filing_runs} ("
            " id bigserial PRIMARY KEY, kind text NOT NULL, as_of date NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT now(), csv_path text,"
            " rows integer, connections integer,"
            " excluded jsonb NOT NULL DEFAULT '{{}}'::jsonb)",
            prefix,
            filing_runs="filing_runs",
        ),
    ]


def schema_v4(prefix: Prefix) -> list[sql.Composed]:
    """Inventory models and their MAC fields, so a run asks only for models it has not seen."""
    return [
        _fmt(
            "CREATE TABLE IF NOT EXISTS {inventory_models} ("
            " id bigint PRIMARY KEY, name text, manufacturer_id bigint,"
            " mac_field_ids bigint[] NOT NULL, fields_fetched_at timestamptz NOT NULL)",
            prefix,
            inventory_models="inventory_models",
        ),
    ]


def schema_v5(prefix: Prefix) -> list[sql.Composed]:
    """The user's Fabric (one release per prefix), each customer's match to it, and the
    census vintage of a Sonar v2 fips."""
    return [
        _fmt(
            "CREATE TABLE IF NOT EXISTS {fabric_locations} ("
            " location_id bigint PRIMARY KEY"
            " CHECK (location_id BETWEEN 1000000000 AND 9999999999),"
            " address_primary text, city text, state text, zip text, zip_suffix text,"
            " unit_count integer, bsl_flag boolean NOT NULL, building_type_code text,"
            " land_use_code text, address_confidence_code text, county_geoid text,"
            " block_geoid text, h3_9 text, fcc_rel text NOT NULL,"
            " geom geometry(Point, 4326) NOT NULL)",
            prefix,
            fabric_locations="fabric_locations",
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
            _index(prefix, "fabric_locations", "geom_idx"), prefix.table("fabric_locations")
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (zip)").format(
            _index(prefix, "fabric_locations", "zip_idx"), prefix.table("fabric_locations")
        ),
        # Secondary / Supplemental: more addresses of one location.
        _fmt(
            "CREATE TABLE IF NOT EXISTS {fabric_addresses} ("
            " location_id bigint NOT NULL, address_id bigint, parcel_id text,"
            " address_confidence_code text, address_range text, pre_direction text,"
            " street_name text, suffix text, post_direction text, primary_secondary text,"
            " address text, city text, state text, zip text, zip_suffix text,"
            " address_source text, fcc_rel text NOT NULL)",
            prefix,
            fabric_addresses="fabric_addresses",
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (location_id)").format(
            _index(prefix, "fabric_addresses", "loc_idx"), prefix.table("fabric_addresses")
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (zip)").format(
            _index(prefix, "fabric_addresses", "zip_idx"), prefix.table("fabric_addresses")
        ),
        # One row per customer of the latest report, rewritten whole by each match run:
        # location_id NULL means unmatched, with the reason (and the tied candidates).
        _fmt(
            "CREATE TABLE IF NOT EXISTS {fabric_matches} ("
            " customer_id bigint PRIMARY KEY, location_id bigint, fcc_rel text,"
            " method text NOT NULL CHECK (method IN"
            " ('point', 'point_address', 'address', 'unmatched')),"
            " distance_m double precision, candidates integer NOT NULL DEFAULT 0,"
            " reason text CHECK (reason IS NULL OR reason IN ('no_coordinates_no_address',"
            " 'nothing_within_reach', 'ambiguous', 'nearest_not_bsl')),"
            " candidate_ids bigint[], matched_at timestamptz NOT NULL DEFAULT now(),"
            " CHECK ((location_id IS NULL) = (method = 'unmatched')),"
            " CHECK ((reason IS NULL) = (method <> 'unmatched')))",
            prefix,
            fabric_matches="fabric_matches",
        ),
        # Sonar v2 sends the census year of an address's fips; v1 sends none (NULL).
        _fmt(
            "ALTER TABLE {customers} ADD COLUMN IF NOT EXISTS census_year smallint",
            prefix,
            customers="customers",
        ),
    ]


def schema_v6(prefix: Prefix) -> list[sql.Composed]:
    """Coverage areas (the filer's service areas or propagation polygons) with their offer,
    for the BDC availability file."""
    return [
        # One row per polygon loaded; the offer columns are NULL when the area takes its
        # technology's offer from the filing's configuration (or its default).
        _fmt(
            "CREATE TABLE IF NOT EXISTS {coverage_areas} ("
            " id bigserial PRIMARY KEY,"
            " technology smallint NOT NULL"
            " CHECK (technology IN (0, 10, 40, 50, 60, 61, 70, 71, 72)),"
            " download_mbps integer CHECK (download_mbps >= 0),"
            " upload_mbps integer CHECK (upload_mbps >= 0),"
            " low_latency boolean,"
            " business_residential_code text CHECK (business_residential_code IN ('R', 'B', 'X')),"
            " source text NOT NULL, feature integer NOT NULL, source_crs text NOT NULL,"
            " loaded_at timestamptz NOT NULL DEFAULT now(),"
            " geom geometry(MultiPolygon, 4326) NOT NULL,"
            " CHECK ((download_mbps IS NULL) = (upload_mbps IS NULL)))",
            prefix,
            coverage_areas="coverage_areas",
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
            _index(prefix, "coverage_areas", "geom_idx"), prefix.table("coverage_areas")
        ),
    ]


def schema_v7(prefix: Prefix) -> list[sql.Composed]:
    """The Fabric's zip indexes go: a match finds its address candidates with one query
    whose scan of the ZIPs costs the same without them (bench/bench_fabric_match.py,
    2 million locations, 50,000 customers: 20.4-21.5 s without, 21.7-22.1 s with), and
    building them took 2-2.5 s of every load, beside the GiST index it slowed down."""
    return [
        sql.SQL("DROP INDEX IF EXISTS {}").format(prefix.table(f"{table}_zip_idx"))
        for table in ("fabric_locations", "fabric_addresses")
    ]


MIGRATIONS: dict[int, Callable[[Prefix], list[sql.Composed]]] = {
    1: schema_v1, 2: schema_v2, 3: schema_v3, 4: schema_v4, 5: schema_v5, 6: schema_v6,
    7: schema_v7,
}  # fmt: skip
LATEST_VERSION = max(MIGRATIONS)


def migration_plan(current: int) -> list[int]:
    """The versions to apply, in order, to bring ``current`` to the latest."""
    return [version for version in sorted(MIGRATIONS) if version > current]


# Every table the migrations create, unprefixed.
TABLES = (
    "metadata",
    "customers",
    "groups",
    "customer_groups",
    "services",
    "inventory_items",
    "customer_inventory",
    "account_statuses",
    "account_types",
    "import_runs",
    "filing_runs",
    "inventory_models",
    "fabric_locations",
    "fabric_addresses",
    "fabric_matches",
    "coverage_areas",
)


def derived_names(prefix: Prefix) -> list[str]:
    """Every unqualified name the DDL creates (for length checks in tests)."""
    tables = list(TABLES)
    indexes = [
        "customers_geom_idx",
        "customer_inventory_item_idx",
        "fabric_locations_geom_idx",
        "fabric_locations_zip_idx",
        "fabric_addresses_loc_idx",
        "fabric_addresses_zip_idx",
        "coverage_areas_geom_idx",
    ]
    pkeys = [f"{table}_pkey" for table in tables if table != "fabric_addresses"]
    sequences = ["import_runs_id_seq", "filing_runs_id_seq", "coverage_areas_id_seq"]
    return [prefix.name(name) for name in tables + indexes + pkeys + sequences]
