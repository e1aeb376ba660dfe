"""A partner integration (authorization code grant) end to end: `assessio-connect greenhouse
connect` prints the link, a browser approves at the fake Greenhouse and follows its redirect to
the daemon, which keeps the tokens in the store, renews the 24-hour refresh token while the
tenant is idle, survives a restart, says when the connection lapsed and how to reconnect, and
lets one replica at a time refresh."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3
from click.testing import CliRunner, Result
from greenhouse_world import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    KEYS,
    FakeClock,
    World,
    wait_until,
    world,
)

from assessio_connect import (
    ConnectorState,
    Daemon,
    PermanentError,
    RetryableError,
    Secret,
    StateEntry,
    Store,
    StoreState,
    Transport,
    load_plugins,
)
from assessio_connect_greenhouse import (
    AuthorizationRequests,
    GreenhouseConnector,
    OAuthSettings,
    PartnerConnection,
    TokenEndpoint,
)
from assessio_connect_greenhouse._cli import greenhouse_group
from assessio_connect_greenhouse._partner_oauth import CONNECTION_KEY
from assessio_connect_greenhouse.fake import FakeGreenhouse

HOUR = 3600.0


def greenhouse_command(w: World, config: Path) -> Result:
    """`assessio-connect greenhouse connect --config CONFIG --tenant acme`, with the plugins
    the command line would give it."""
    arguments = ["connect", "--config", str(config), "--tenant", "acme"]
    return CliRunner().invoke(greenhouse_group, arguments, obj=w.plugins)


def connect(w: World) -> str:
    """Run `assessio-connect greenhouse connect`; returns the link it printed."""
    result = greenhouse_command(w, w.tmp / "assessio-connect.toml")
    assert result.exit_code == 0, result.output
    assert w.redirect_uri in result.stderr
    return result.stdout.strip()


def deliver(w: World, daemon: Daemon, name: str, score: int) -> dict[str, Any]:
    """A new applicant moved into "Assessment", ordered, completed: returns their note."""
    candidate, application = w.applicant(name, f"{name.lower()}@example.com")
    w.greenhouse.move_to_stage(application, "Assessment")
    order = wait_until(
        lambda: next(
            (
                o
                for o in w.sandbox.orders()
                if o.order.candidate_details.email.startswith(name.lower())
            ),
            None,
        ),
        what=f"the order for {name}",
    )
    w.sandbox.complete(order.order.result_id, score=score, provider_key=KEYS["provider_key"])
    notes = w.greenhouse.wait_for(lambda g: g.notes(candidate), timeout=15)
    return dict(notes[0])


def refreshed(count: int) -> Callable[[FakeGreenhouse], bool]:
    def check(greenhouse: FakeGreenhouse) -> bool:
        return greenhouse.refresh_tokens_issued == count

    return check


def connector(daemon: Daemon) -> GreenhouseConnector:
    found = daemon.tenants["acme"].connector
    assert isinstance(found, GreenhouseConnector)
    return found


def test_a_connected_partner_tenant_works_past_a_day_idle_and_after_a_restart(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w:
        clock = w.clock
        with w.daemon(grant=AUTHORIZATION_CODE, clock=clock) as daemon:
            with pytest.raises(PermanentError, match="not connected to Greenhouse yet") as caught:
                connector(daemon).check()
            assert "assessio-connect greenhouse connect" in str(caught.value)

            link = connect(w)
            assert link.startswith(f"{w.greenhouse.url}/authorize?response_type=code&")
            page = w.approve_in_browser(link)
            assert page.status == 200, page.data
            assert b"Greenhouse is connected" in page.data
            assert w.greenhouse.refresh_tokens_issued == 1
            assert "partner connection connected" in connector(daemon).check()

            note = deliver(w, daemon, "Ada", 61)
            assert note["user_id"] == w.author  # the user who approved the connection

            for issued in (2, 3):  # idle: 13 h, then 13 h more (26 h after connecting)
                clock.advance(13 * HOUR)
                w.greenhouse.wait_for(refreshed(issued))
            note = deliver(w, daemon, "Bo", 72)
            assert "score 72/100" in note["body"]
            assert w.greenhouse.refresh_tokens_issued == 3

        # A restarted daemon: the access tokens are gone at Greenhouse, and only the newest
        # refresh token (the others were rotated away) can get another.
        w.greenhouse.expire_tokens()
        with w.daemon(grant=AUTHORIZATION_CODE, clock=clock) as daemon:
            note = deliver(w, daemon, "Cy", 83)
            assert "score 83/100" in note["body"]
            assert w.greenhouse.refresh_tokens_issued == 4
    assert KEYS["partner_client_secret"] not in w.log.getvalue()
    refreshes = [r for r in w.greenhouse.requests if r.path == "/token"]
    assert all(r.status == 200 for r in refreshes)


def test_a_revoked_connection_says_how_to_reconnect_and_a_reconnect_resumes(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as w, w.daemon(grant=AUTHORIZATION_CODE, clock=w.clock) as daemon:
        assert w.approve_in_browser(connect(w)).status == 200
        deliver(w, daemon, "Ada", 50)

        w.greenhouse.revoke_refresh_tokens()  # the customer disconnected the app
        candidate, application = w.applicant("Bo", "bo@example.com")
        w.greenhouse.move_to_stage(application, "Assessment")
        (order,) = [o for o in w.wait_for_orders(2) if "bo@" in o.order.candidate_details.email]
        w.sandbox.complete(order.order.result_id, provider_key=KEYS["provider_key"])
        wait_until(
            lambda: "event=greenhouse.oauth_lapsed" in w.log.getvalue(), what="the lapse logged"
        )
        (line,) = [x for x in w.log.getvalue().splitlines() if "greenhouse.oauth_lapsed" in x]
        assert "level=error" in line
        assert "assessio-connect greenhouse connect --config <daemon.toml> --tenant acme" in line
        with pytest.raises(PermanentError, match="lapsed") as caught:
            connector(daemon).check()
        assert "greenhouse connect" in str(caught.value)
        pending = wait_until(
            lambda: next(
                (
                    d
                    for d in daemon.store.list_deliveries()
                    if d.state == "pending"
                    and d.result_id == order.order.result_id
                    and d.last_error
                ),
                None,
            ),
            what="the delivery waiting for a reconnect",
        )
        assert "reconnect with assessio-connect greenhouse connect" in (pending.last_error or "")

        assert w.approve_in_browser(connect(w)).status == 200
        w.clock.advance(301)  # the delivery waits five minutes while disconnected
        notes = w.greenhouse.wait_for(lambda g: g.notes(candidate), timeout=15)
        assert len(notes) == 1


def test_the_callback_refuses_a_used_an_expired_or_a_foreign_link(tmp_path: Path) -> None:
    with world(tmp_path) as w, w.daemon(grant=AUTHORIZATION_CODE, clock=w.clock) as daemon:
        link = connect(w)
        assert w.approve_in_browser(link).status == 200
        again = w.approve_in_browser(link)  # the same state a second time
        assert again.status == 400
        assert b"unknown, already used or expired" in again.data
        assert b"assessio-connect greenhouse connect" in again.data

        stale = connect(w)
        w.clock.advance(601)  # links live ten minutes
        assert w.approve_in_browser(stale).status == 400

        forged = re.sub(r"state=[^&]+", "state=made-up", connect(w))
        assert w.approve_in_browser(forged).status == 400

        refused = daemon.url + "/connectors/acme/oauth/callback?error=access_denied&state=x"
        answer = urllib3.PoolManager(retries=False).request("GET", refused)
        assert answer.status == 400
        assert w.greenhouse.refresh_tokens_issued == 1


# -- two replicas on one store ----------------------------------------------------------


@attrs.define
class Replica:
    """The slice of a daemon's tenant context a partner connection uses, for one replica
    (its own owner id) of a store shared with others."""

    state: ConnectorState
    clock: FakeClock
    tenant: str = "acme"
    logs: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)

    def now(self) -> float:
        return self.clock()

    def log(self, event: str, **fields: Any) -> None:
        self.logs.append((event, fields))


class ReadTogether(ConnectorState):
    """A replica's state whose first read of the tokens, once armed, waits for the other
    replicas' first read: every replica starts from the same expired tokens, the race that only
    the refresh lease settles."""

    def __init__(self, inner: StoreState, barrier: threading.Barrier, clock: FakeClock) -> None:
        self.owner = inner.owner
        self._inner = inner
        self._barrier = barrier
        self._clock = clock
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    def _now(self) -> float:
        return self._clock()

    def _get(self, key: str) -> StateEntry | None:
        entry = self._inner.get(key)
        if key == CONNECTION_KEY and self._armed:
            self._armed = False
            self._barrier.wait(10)
        return entry

    def _put(self, key: str, value: str, expect_version: int | None) -> StateEntry | None:
        if expect_version is None:
            return self._inner.put(key, value)
        return self._inner.swap(key, value, expect_version=expect_version)

    def _delete(self, key: str) -> None:
        self._inner.delete(key)


@pytest.fixture
def partner_fake() -> Iterator[FakeGreenhouse]:
    with FakeGreenhouse(
        partner_client_id=KEYS["partner_client_id"],
        partner_client_secret=KEYS["partner_client_secret"],
        partner_redirect_uris=["https://connect.example.com/connectors/acme/oauth/callback"],
    ) as fake:
        fake.authorizing_user = fake.add_user("Robin", "Recruiter", "robin@acme.example")
        yield fake


POSTGRES_URL = "ASSESSIO_TEST_POSTGRES_URL"
"""Where the PostgreSQL variant runs (as the PostgreSQL plugin's own tests); it is skipped when
no server answers, unless ASSESSIO_REQUIRE_POSTGRES=1."""


def _postgres_store_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    pytest.importorskip("psycopg.sql")
    pytest.importorskip("assessio_connect_postgres")
    url = os.environ.get(POSTGRES_URL) or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        psycopg.connect(url, connect_timeout=3, autocommit=True).close()
    except psycopg.Error as exc:
        reason = f"no PostgreSQL at {POSTGRES_URL} or the default ({type(exc).__name__})"
        if os.environ.get("ASSESSIO_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"test_gh_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    finally:
        drop = psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(drop.format(psycopg.sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One store that two replicas share: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        yield from _postgres_store_url()


def _stores(url: str) -> tuple[Store, Store]:
    plugins = load_plugins()  # the PostgreSQL store comes from its entry point
    first = plugins.open_store(url)
    first.migrate()
    return first, plugins.open_store(url)


def test_replicas_refresh_one_at_a_time_and_share_the_newest_tokens(
    shared_store_url: str, partner_fake: FakeGreenhouse
) -> None:
    clock = FakeClock()
    settings = OAuthSettings(
        client_id=KEYS["partner_client_id"],
        client_secret=Secret("test", KEYS["partner_client_secret"]),
        grant=AUTHORIZATION_CODE,
    )
    transport = Transport(connect_timeout=2.0, read_timeout=5.0)
    stores = _stores(shared_store_url)
    try:
        together = threading.Barrier(len(stores))
        states = [
            ReadTogether(
                StoreState(store, "acme", "greenhouse", owner=f"replica-{n}", clock=clock),
                together,
                clock,
            )
            for n, store in enumerate(stores)
        ]
        replicas = [Replica(shared, clock) for shared in states]
        connections = [
            PartnerConnection(
                settings,
                TokenEndpoint(
                    f"{partner_fake.url}/token",
                    settings.client_id,
                    settings.client_secret,
                    transport,
                    clock=clock,
                ),
                replica,
            )
            for replica in replicas
        ]
        redirect = "https://connect.example.com/connectors/acme/oauth/callback"
        state = AuthorizationRequests(replicas[0].state, clock).begin(redirect, 600)
        approved = urllib3.PoolManager(retries=False).request(
            "GET",
            f"{partner_fake.url}/authorize?response_type=code&client_id="
            f"{KEYS['partner_client_id']}&redirect_uri={redirect}&state={state}",
            redirect=False,
        )
        code = re.search(r"code=([^&]+)", approved.headers["Location"])
        assert code is not None
        connections[0].connect(code.group(1), redirect)
        assert partner_fake.refresh_tokens_issued == 1

        clock.advance(2 * HOUR)  # both replicas' access tokens have expired
        for shared in states:
            shared.arm()  # and both will have read them before either refreshes
        headers: list[str] = []

        def call(connection: PartnerConnection) -> None:
            headers.append(connection.authorization())

        threads = [threading.Thread(target=call, args=(c,)) for c in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert partner_fake.refresh_tokens_issued == 2  # one refresh, not two
        assert len(set(headers)) == 1  # and both use its access token
        assert [r.status for r in partner_fake.requests if r.path == "/token"] == [200, 200]
    finally:
        for store in stores:
            store.close()
        transport.close()


def test_an_unconnected_tenant_is_told_to_run_connect_once(
    tmp_path: Path, partner_fake: FakeGreenhouse
) -> None:
    clock = FakeClock()
    settings = OAuthSettings(
        client_id=KEYS["partner_client_id"],
        client_secret=Secret("test", KEYS["partner_client_secret"]),
        grant=AUTHORIZATION_CODE,
    )
    transport = Transport(connect_timeout=2.0, read_timeout=5.0)
    stores = _stores(f"sqlite:///{tmp_path / 'shared.db'}")
    try:
        replica = Replica(
            StoreState(stores[0], "acme", "greenhouse", owner="a", clock=clock), clock
        )
        endpoint = TokenEndpoint(
            f"{partner_fake.url}/token",
            settings.client_id,
            settings.client_secret,
            transport,
            clock=clock,
        )
        connection = PartnerConnection(settings, endpoint, replica)
        with pytest.raises(RetryableError, match="not connected to Greenhouse yet"):
            connection.authorization()
        assert connection.problem() is not None
        assert [event for event, _ in replica.logs] == ["greenhouse.oauth_not_connected"]
    finally:
        for store in stores:
            store.close()
        transport.close()


def test_connect_explains_what_it_cannot_do(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        result = greenhouse_command(w, w.config_path(grant=CLIENT_CREDENTIALS))
        assert result.exit_code == 1
        assert "not a partner integration" in result.stderr
        partner = w.config_path(grant=AUTHORIZATION_CODE)
        partner.write_text(partner.read_text().replace(f":{w.daemon_port}", ":0", 1))
        result = greenhouse_command(w, partner)
        assert result.exit_code == 1
        assert "set [server] public_url" in result.stderr
        assert result.stdout == ""
