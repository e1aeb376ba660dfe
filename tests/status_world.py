"""A world for the operators' views: a configuration with many tenants on one reference ATS,
and a store with some history (delivered, dead, retrying, refused, orphaned, updated), written
through the `Store` API so every row is one the daemon could have written."""

from __future__ import annotations

from pathlib import Path

import attrs

from assessio_connect.store import POLL_SUCCEEDED, Store
from store_contract import new_order, payload

__all__ = [
    "ATS_TOKEN",
    "OPERATOR_TOKEN",
    "WEBHOOK_SECRET",
    "Seeded",
    "seed_history",
    "tenant_name",
    "write_config",
]

OPERATOR_TOKEN = "operator-token-5b8e2c1f9d47a036"
ATS_TOKEN = "ats-token-status-world-c0ffee51"
WEBHOOK_SECRET = "ats-webhook-status-world-77e1"
PROVIDER_KEY = "pk-status-world-2b7d"
RESULT_KEY = "result-key-status-world-31f0"


def tenant_name(n: int) -> str:
    """org-01, org-02, …"""
    return f"org-{n:02d}"


def _secret(tmp: Path, name: str, value: str) -> str:
    folder = tmp / "secrets"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return f"secrets/{name}"


def write_config(
    tmp: Path,
    *,
    tenants: int,
    ats_url: str,
    assessio_url: str,
    pull: tuple[int, ...] = (2, 4),
    with_token: bool = True,
) -> Path:
    """A daemon configuration with `tenants` reference tenants (push style, the numbers in
    `pull` polled) sharing one ATS, the status page on when `with_token`."""
    status = ""
    if with_token:
        status = f'[status]\ntoken = {{ file = "{_secret(tmp, "operator", OPERATOR_TOKEN)}" }}\n'
    ats = _secret(tmp, "ats", ATS_TOKEN)
    hook = _secret(tmp, "webhook", WEBHOOK_SECRET)
    key = _secret(tmp, "provider", PROVIDER_KEY)
    result = _secret(tmp, "result", RESULT_KEY)
    parts = [
        f"""[server]
listen = "127.0.0.1:0"

[store]
url = "sqlite:///state.db"

[delivery]
workers = 2
first_delay = "10m"
max_delay = "1h"
lease = 5

{status}"""
    ]
    for n in range(1, tenants + 1):
        style = f'webhook_secret = {{ file = "{hook}" }}'
        if n in pull:
            style = "poll = true\npoll_interval = 0.5"
        parts.append(
            f"""
[tenants.{tenant_name(n)}]
base_url = "{assessio_url}"
provider_key = {{ file = "{key}" }}

[tenants.{tenant_name(n)}.webhook]
api_keys = [{{ file = "{result}" }}]

[tenants.{tenant_name(n)}.assessment]
lens = "General Performance"
locale = "en-GB"

[tenants.{tenant_name(n)}.ats]
kind = "reference"
base_url = "{ats_url}"
api_token = {{ file = "{ats}" }}
{style}
"""
        )
    path = tmp / "assessio-connect.toml"
    path.write_text("".join(parts))
    return path


@attrs.frozen
class Seeded:
    """The rows a test looks for."""

    dead_tenant: str
    dead_application: str
    dead_result: str
    dead_email: str
    dead_delivery: int
    retrying_tenant: str
    retrying_delivery: int
    refused_tenant: str
    waiting_tenant: str
    orphan_tenant: str
    orphan_result: str
    updated_tenant: str
    updated_result: str
    hostile_tenant: str
    hostile_application: str


def seed_history(store: Store, *, tenants: int, now: float) -> Seeded:
    """Two delivered candidates in every tenant, and one of each kind of trouble: a dead
    letter whose error quotes the ATS token (org-03), a retrying delivery (org-05), an order
    Assessio refused (org-08), one waiting for Assessio (org-12), an orphan (org-11), a result
    updated twice (org-10) and an application id made of markup (org-06). Times are before
    `now`; nothing is due before an hour from `now`."""
    start = now - 3 * 3600
    first_order = {}
    for n in range(1, tenants + 1):
        tenant = tenant_name(n)
        for k in (1, 2):
            result_id = f"res-{n:02d}-{k}"
            email = f"candidate{k}@{tenant}.example"
            if (n, k) == (3, 1):
                email = "Ada.Lovelace@example.com"
            application = f"app-{n:02d}-{k}"
            if (n, k) == (6, 1):
                application = '<img src=x onerror="alert(1)">'
            at = start + n * 60 + k
            store.add_order(
                new_order(result_id, tenant=tenant, application_id=application, email=email),
                now=at,
            )
            first_order[(n, k)] = (tenant, result_id)
    for (n, k), (tenant, result_id) in first_order.items():
        at = start + n * 60 + k
        if n == 8 and k == 1:
            store.order_failed(tenant, result_id, "Assessio answered 400: unknown lens", now=at + 5)
            continue
        if n == 12 and k == 1:
            store.claim_orders(owner="seed", now=at + 5, lease=30, limit=100)
            store.order_retry(
                tenant,
                result_id,
                "cannot reach Assessio: connection refused",
                due=now + 3600,
                now=at + 6,
            )
            continue
        link = f"https://assess.example/take/{result_id}" if n % 2 else None
        store.order_sent(tenant, result_id, link or f"ref-{result_id}", now=at + 5)
        store.record_result(tenant, result_id, payload(result_id, 40 + n), now=at + 600)
    store.record_result("org-10", "res-10-1", payload("res-10-1", 97), now=start + 2 * 3600)
    store.record_result("org-11", "stray-11", payload("stray-11", 50), now=start + 2 * 3600)
    deliveries = store.claim_deliveries(owner="seed", now=now - 600, lease=30, limit=10_000)
    ids = {}
    for delivery in deliveries:
        ids[(delivery.tenant, delivery.result_id, delivery.version)] = delivery.id
        if (delivery.tenant, delivery.result_id) == ("org-03", "res-03-1"):
            store.delivery_retry(
                delivery.id,
                owner="seed",
                error="the ATS answered 503: busy",
                due=now - 500,
                now=now - 590,
            )
        elif (delivery.tenant, delivery.result_id) == ("org-05", "res-05-2"):
            store.delivery_retry(
                delivery.id,
                owner="seed",
                error="the ATS answered 503: maintenance until 18:00",
                due=now + 3600,
                now=now - 580,
            )
        else:
            store.delivery_done(delivery.id, owner="seed", now=now - 570)
    [again] = store.claim_deliveries(owner="seed", now=now - 500, lease=30, limit=10)
    store.delivery_dead(
        again.id,
        owner="seed",
        error=(
            "the ATS answered 404: application app-03-1 is not known (we sent "
            f"Authorization: Bearer {ATS_TOKEN})"
        ),
        now=now - 490,
    )
    store.set_cursor("org-02", POLL_SUCCEEDED, "seeded", now=now - 30)
    return Seeded(
        dead_tenant="org-03",
        dead_application="app-03-1",
        dead_result="res-03-1",
        dead_email="Ada.Lovelace@example.com",
        dead_delivery=again.id,
        retrying_tenant="org-05",
        retrying_delivery=ids[("org-05", "res-05-2", 1)],
        refused_tenant="org-08",
        waiting_tenant="org-12",
        orphan_tenant="org-11",
        orphan_result="stray-11",
        updated_tenant="org-10",
        updated_result="res-10-1",
        hostile_tenant="org-06",
        hostile_application='<img src=x onerror="alert(1)">',
    )
