"""The Harvest v3 client and the OAuth token endpoint against the fake over real HTTP on
127.0.0.1: Greenhouse's Link header, cursor paging, pacing by rate-limit headers, error
mapping, and client-credentials tokens cached and replaced after a 401."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import urllib3
from greenhouse_parts import FakeTime
from greenhouse_world import KEYS
from hypothesis import given, settings
from hypothesis import strategies as st

from assessio_connect import PermanentError, RetryableError, Secret, Transport
from assessio_connect.kit import next_link
from assessio_connect.testing import BackgroundServer
from assessio_connect_greenhouse import GrantRefused, HarvestClient, TokenEndpoint
from assessio_connect_greenhouse._auth import ClientCredentialsAuth
from assessio_connect_greenhouse.fake import FakeGreenhouse


@pytest.fixture
def transport() -> Iterator[Transport]:
    built = Transport(connect_timeout=2.0, read_timeout=5.0)
    yield built
    built.close()


@pytest.fixture
def greenhouse() -> Iterator[FakeGreenhouse]:
    with FakeGreenhouse(client_id=KEYS["client_id"], client_secret=KEYS["client_secret"]) as fake:
        yield fake


def endpoint(url: str, transport: Transport, secret: str = KEYS["client_secret"]) -> TokenEndpoint:
    return TokenEndpoint(
        f"{url}/token", KEYS["client_id"], Secret("env:CS", secret), transport, clock=FakeTime()
    )


def client(
    fake: FakeGreenhouse | str,
    transport: Transport,
    *,
    user: int = 1,
    window: float = 30.0,
    clock: FakeTime | None = None,
    secret: str = KEYS["client_secret"],
) -> HarvestClient:
    url = fake if isinstance(fake, str) else fake.url
    auth = ClientCredentialsAuth(endpoint(url, transport, secret), user, clock=clock or FakeTime())
    time = clock or FakeTime()
    return HarvestClient(url, auth, transport, window=window, sleep=time.sleep, clock=time)


# -- Link headers -------------------------------------------------------------------------


def test_greenhouses_documented_link_header_is_followed_as_given() -> None:
    # harvestdocs.greenhouse.io/docs/pagination: v3 gives a next link only, with the cursor.
    value = '<https://harvest.greenhouse.io/v3/jobs?cursor=received_cursor_string...>; rel="next"'
    listing = "https://harvest.greenhouse.io/v3/jobs?per_page=500"
    assert next_link(value, listing) == (
        "https://harvest.greenhouse.io/v3/jobs?cursor=received_cursor_string..."
    )
    assert next_link(None, listing) is None


# -- reading ------------------------------------------------------------------------------


def test_lists_are_read_page_by_page_with_the_cursor_alone(transport: Transport) -> None:
    with FakeGreenhouse(
        client_id=KEYS["client_id"], client_secret=KEYS["client_secret"], max_per_page=2
    ) as fake:
        user = fake.add_user("Robin", "Recruiter", "robin@example.com")
        for n in range(5):
            fake.add_custom_field(f"Field {n}")
        fake.add_custom_field("A job field", field_type="job")
        harvest = client(fake, transport, user=user)
        fields = harvest.read_all(
            "custom_fields", {"field_type": "candidate"}, action="list fields"
        )
        assert [f["name_key"] for f in fields] == [f"field_{n}" for n in range(5)]
        pages = [parse_qs(r.query) for r in fake.requests if r.path == "/v3/custom_fields"]
        assert pages[0] == {"field_type": ["candidate"], "per_page": ["500"]}
        assert len(pages) == 3
        assert all(list(page) == ["cursor"] for page in pages[1:])  # nothing but the cursor
        assert harvest.find("users", str(user), action="read a user") is not None
        assert harvest.find("users", "99999999", action="read a user") is None


def test_a_next_link_to_another_host_is_refused_without_the_token(transport: Transport) -> None:
    seen: list[str] = []

    def elsewhere(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(str(environ.get("HTTP_AUTHORIZATION")))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"[]"]

    with (
        BackgroundServer(elsewhere) as other,
        FakeGreenhouse(
            client_id=KEYS["client_id"], client_secret=KEYS["client_secret"], max_per_page=1
        ) as fake,
    ):
        user = fake.add_user("Robin", "Recruiter", "robin@example.com")
        fake.add_user("Hana", "Manager", "hana@example.com")

        def harvest(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            query = str(environ.get("QUERY_STRING"))
            if "cursor=" in query:  # the follow-up comes here, never to `other`
                start_response("200 OK", [("Content-Type", "application/json")])
                return [b"[]"]
            link = f'<{other.url}/v3/users?cursor=abc>; rel="next"'
            start_response("200 OK", [("Content-Type", "application/json"), ("Link", link)])
            return [b"[]"]

        with BackgroundServer(harvest) as server:
            auth = ClientCredentialsAuth(endpoint(fake.url, transport), user, clock=FakeTime())
            reader = HarvestClient(server.url, auth, transport, window=30.0)
            with pytest.raises(PermanentError, match="another host"):
                reader.read_all("users", {}, action="list users")
    assert seen == []


def test_pacing_by_rate_limit_headers_avoids_429s(transport: Transport) -> None:
    clock = FakeTime()
    with FakeGreenhouse(
        client_id=KEYS["client_id"],
        client_secret=KEYS["client_secret"],
        rate_limit=4,
        rate_window=10.0,
        clock=clock,
    ) as fake:
        user = fake.add_user("A", "B", "a@example.com")
        harvest = client(fake, transport, user=user, window=10.0, clock=clock)
        for _ in range(12):
            harvest.first_page("users", {}, action="read users", per_page=1)
        assert [r.status for r in fake.requests if r.path == "/v3/users"] == [200] * 12
        assert clock.slept == [10.0, 10.0]  # each time the window's 4 requests were spent


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (500, RetryableError, "HTTP 500"),
        (503, RetryableError, "HTTP 503"),
        (404, PermanentError, "HTTP 404 Not Found: injected failure"),
        (422, PermanentError, "HTTP 422 Unprocessable Entity: Validation error; body: injected"),
        (403, PermanentError, "HTTP 403 Forbidden: injected failure (check [...ats.oauth]: the"),
    ],
)
def test_harvest_errors_are_retryable_or_permanent(
    greenhouse: FakeGreenhouse,
    transport: Transport,
    status: int,
    kind: type[Exception],
    words: str,
) -> None:
    harvest = client(greenhouse, transport, user=greenhouse.add_user("A", "B", "a@example.com"))
    greenhouse.fail_next(1, status, path="/v3/users")
    with pytest.raises(kind, match="could not read users") as caught:
        harvest.first_page("users", {}, action="read users", per_page=1)
    assert words in str(caught.value)


def test_429_retry_after_and_network_failures_are_retryable(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    harvest = client(greenhouse, transport, user=greenhouse.add_user("A", "B", "a@example.com"))
    greenhouse.fail_next(1, 429, retry_after=7, path="/v3/users")
    with pytest.raises(RetryableError) as caught:
        harvest.first_page("users", {}, action="read users", per_page=1)
    assert caught.value.retry_after == 7
    with pytest.raises(RetryableError, match="could not ask Greenhouse for a token"):
        client("http://127.0.0.1:9", transport).first_page(
            "users", {}, action="read users", per_page=1
        )


# -- OAuth --------------------------------------------------------------------------------


def test_client_credential_tokens_are_cached_and_replaced_after_a_401(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    user = greenhouse.add_user("Robin", "Recruiter", "robin@example.com")
    harvest = client(greenhouse, transport, user=user)
    for _ in range(3):
        harvest.first_page("users", {}, action="read users", per_page=1)
    assert greenhouse.tokens_issued == 1
    greenhouse.expire_tokens()
    harvest.first_page("users", {}, action="read users", per_page=1)
    assert greenhouse.tokens_issued == 2
    assert [r.status for r in greenhouse.requests if r.path == "/v3/users"] == [200] * 3 + [
        401,
        200,
    ]
    harvest_calls = [r for r in greenhouse.requests if r.path.startswith("/v3/")]
    assert {r.user_id for r in harvest_calls if r.status == 200} == {user}  # `sub`


def test_refused_client_credentials_say_what_to_check(
    greenhouse: FakeGreenhouse, transport: Transport
) -> None:
    bad = client(greenhouse, transport, secret="wrong-secret")
    with pytest.raises(PermanentError, match="invalid_client") as caught:
        bad.first_page("users", {}, action="read users", per_page=1)
    assert "check ats.oauth.client_id and ats.oauth.client_secret" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    unknown = client(greenhouse, transport, user=424242)
    with pytest.raises(PermanentError, match="sub '424242' is not a user id"):
        unknown.first_page("users", {}, action="read users", per_page=1)


def test_basic_api_keys_are_refused_by_harvest_v3(greenhouse: FakeGreenhouse) -> None:
    """What a connector still on API keys meets: 401, with Greenhouse's reason."""
    answer = urllib3.PoolManager(retries=False).request(
        "GET", f"{greenhouse.url}/v3/users", headers=urllib3.make_headers(basic_auth="key:")
    )
    assert answer.status == 401


def test_a_spent_refresh_token_is_refused_as_a_grant(transport: Transport) -> None:
    with FakeGreenhouse(
        partner_client_id=KEYS["partner_client_id"],
        partner_client_secret=KEYS["partner_client_secret"],
        partner_redirect_uris=["https://connect.example.com/cb"],
    ) as fake:
        partner = TokenEndpoint(
            f"{fake.url}/token",
            KEYS["partner_client_id"],
            Secret("env:PCS", KEYS["partner_client_secret"]),
            transport,
            clock=FakeTime(),
        )
        with pytest.raises(GrantRefused, match="invalid_grant") as caught:
            partner.refresh("not-a-refresh-token")
        assert "not-a-refresh-token" not in str(caught.value)
        with pytest.raises(GrantRefused):
            partner.authorization_code("not-a-code", "https://connect.example.com/cb")


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("answer", "expires_at"),
    [
        ({"expires_in": 3600}, NOW + 3600),  # RFC 6749 §5.1
        ({"expires_at": "2027-01-15T09:00:00.000Z"}, NOW + 3600),  # as integrators report
        ({"expires": "2027-01-15T08:30:00Z"}, NOW + 1800),  # the v3 reference's schema
        ({"expires": "1800"}, NOW + 1800),
        ({"expires_in": "soon", "expires": None}, NOW + 3600),  # unreadable: Greenhouse's 1 h
        ({}, NOW + 3600),
    ],
)
def test_token_answers_are_read_in_each_form_seen(
    transport: Transport, answer: dict[str, Any], expires_at: float
) -> None:
    body = json.dumps({"access_token": "t0k3n", "token_type": "Bearer", **answer}).encode()

    def token(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    with BackgroundServer(token) as server:
        clock = FakeTime()
        clock.now = NOW
        grant = TokenEndpoint(
            f"{server.url}/token", "id", Secret("env:S", "s"), transport, clock=clock
        ).client_credentials(1)
    assert grant.expires_at == expires_at
    assert "t0k3n" not in repr(grant)


TOKEN_KEYS = ["access_token", "token_type", "expires_in", "expires_at", "expires", "refresh_token"]
PARSER = TokenEndpoint(
    "https://auth.example/token", "id", Secret("env:S", "s"), Transport(), clock=FakeTime()
)
"""Only its answer parser is used: no request is made."""


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(TOKEN_KEYS),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    )
)
def test_any_token_answer_is_read_or_refused_with_permanent_error(answer: dict[str, Any]) -> None:
    try:
        grant = PARSER._grant(json.dumps(answer).encode())
    except PermanentError:
        return
    assert isinstance(grant.expires_at, float)
    assert grant.access_token.strip()
