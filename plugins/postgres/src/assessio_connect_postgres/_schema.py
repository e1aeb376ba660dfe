"""The PostgreSQL schema, as numbered migration steps; `{s}` stands for the store's schema.

Times are `double precision` seconds since the epoch, like the `Store` interface's floats, so
they round-trip exactly.
"""

from __future__ import annotations

from ._inbound import INBOUND_MIGRATION

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: orders, result versions, the delivery outbox and poller cursors.
    (
        """CREATE TABLE {s}.orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            application_id text NOT NULL,
            result_id text NOT NULL,
            job_id text NOT NULL,
            candidate_id text NOT NULL,
            order_json text NOT NULL,
            metadata_json text NOT NULL,
            state text NOT NULL,
            reference text,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at double precision NOT NULL,
            last_error text,
            lease_owner text,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            CONSTRAINT orders_application UNIQUE (tenant, application_id),
            CONSTRAINT orders_result UNIQUE (tenant, result_id)
        )""",
        # Pending rows only: claiming and next_due stay small however many orders were sent.
        "CREATE INDEX orders_due ON {s}.orders (next_attempt_at, id) WHERE state = 'pending'",
        "CREATE INDEX orders_recent ON {s}.orders (created_at, id)",
        "CREATE INDEX orders_lease ON {s}.orders (lease_owner) WHERE lease_owner IS NOT NULL",
        """CREATE TABLE {s}.results (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            result_id text NOT NULL,
            version integer NOT NULL,
            payload bytea NOT NULL,
            digest text NOT NULL,
            received_at double precision NOT NULL,
            orphan boolean NOT NULL,
            CONSTRAINT results_version UNIQUE (tenant, result_id, version),
            CONSTRAINT results_digest UNIQUE (tenant, result_id, digest)
        )""",
        "CREATE INDEX results_recent ON {s}.results (received_at, id)",
        """CREATE TABLE {s}.deliveries (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text NOT NULL,
            result_id text NOT NULL,
            version integer NOT NULL,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at double precision NOT NULL,
            last_error text,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            lease_owner text,
            lease_expires_at double precision,
            CONSTRAINT deliveries_result_version FOREIGN KEY (tenant, result_id, version)
                REFERENCES {s}.results (tenant, result_id, version)
        )""",
        # Unfinished rows only; an in-flight row's next_attempt_at is its lease expiry.
        """CREATE INDEX deliveries_due ON {s}.deliveries (next_attempt_at, id)
            WHERE state IN ('pending', 'in_flight')""",
        "CREATE INDEX deliveries_state ON {s}.deliveries (state, created_at)",
        "CREATE INDEX deliveries_result ON {s}.deliveries (tenant, result_id, state)",
        "CREATE INDEX deliveries_recent ON {s}.deliveries (created_at, id)",
        """CREATE INDEX deliveries_lease ON {s}.deliveries (lease_owner)
            WHERE lease_owner IS NOT NULL""",
        """CREATE TABLE {s}.cursors (
            tenant text NOT NULL,
            name text NOT NULL,
            value text NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (tenant, name)
        )""",
    ),
    # 2: connectors' durable key-value state.
    (
        """CREATE TABLE {s}.connector_state (
            tenant text NOT NULL,
            namespace text NOT NULL,
            key text NOT NULL,
            value text NOT NULL,
            version bigint NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (tenant, namespace, key)
        )""",
    ),
    # 3: operators' views: orders searchable by e-mail (and by application or result id
    # across tenants), per-tenant counts from indexes, and every delivery attempt's outcome.
    (
        "ALTER TABLE {s}.orders ADD COLUMN email text",
        # As assessio_connect.store.email_key: trimmed, ASCII letters lowercased.
        """UPDATE {s}.orders SET email = btrim(translate(
            (order_json::jsonb) -> 'candidateDetails' ->> 'email',
            'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))""",
        "CREATE INDEX orders_by_email ON {s}.orders (email)",
        "CREATE INDEX orders_by_application ON {s}.orders (application_id)",
        "CREATE INDEX orders_by_result ON {s}.orders (result_id)",
        "CREATE INDEX orders_tenant_state ON {s}.orders (tenant, state, created_at)",
        "CREATE INDEX results_orphans ON {s}.results (tenant, received_at) WHERE orphan",
        """CREATE TABLE {s}.delivery_attempts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id bigint NOT NULL,
            tenant text NOT NULL,
            result_id text NOT NULL,
            version integer NOT NULL,
            attempt integer NOT NULL,
            outcome text NOT NULL,
            error text,
            at double precision NOT NULL,
            next_attempt_at double precision
        )""",
        "CREATE INDEX delivery_attempts_result ON {s}.delivery_attempts (tenant, result_id, id)",
    ),
    # 4: the inbound queue of push connectors' events (_inbound).
    INBOUND_MIGRATION,
)
"""Schema steps in order; step N (1-based) brings the schema to version N."""
