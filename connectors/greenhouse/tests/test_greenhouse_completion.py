"""The Assessment Partner completion URL (where the partner key goes) is judged as urllib3,
which sends the PATCH, parses it, and rebuilt from what was judged; and `test_status` never
says "complete" without the `partner_profile_url` Greenhouse requires."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from assessio_connect import Result
from assessio_connect_greenhouse import completion_url
from assessio_connect_greenhouse._completion import host_allowed
from assessio_connect_greenhouse._partner import status_answer

HOSTS = ("*.greenhouse.io",)
DOCUMENTED = "https://app.greenhouse.io/integrations/testing_partners/take_home_tests/12345"
"""The PATCH Completed Test example (grnhse/greenhouse-api-docs,
source/includes/assessment/_patch_completed_test.md)."""


def test_greenhouses_documented_completion_url_is_kept() -> None:
    assert completion_url(DOCUMENTED, HOSTS) == DOCUMENTED
    assert completion_url(DOCUMENTED.upper().replace("/INTEGRATIONS", "/integrations"), HOSTS)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8080\\@tests.greenhouse.io/t/1", "backslash"),
        ("https://tests.greenhouse.io@127.0.0.1/t/1", "credentials"),
        ("https://a:b@app.greenhouse.io/t/1", "credentials"),
        ("http://app.greenhouse.io/t/1", "must be an https:// URL"),
        ("ftp://app.greenhouse.io/t/1", "must be an https:// URL"),
        ("//app.greenhouse.io/t/1", "absolute https://"),
        ("https://%61pp.greenhouse.io/t/1", "unusable host"),
        ("https://app.greenhouse.io.evil.example/t/1", "not allowed"),
        ("https://127.0.0.1#@app.greenhouse.io/", "not allowed"),
        ("https://app.greenhouse.io /t/1", "spaces or control characters"),
        ("https://app.greenhouse.io:99999/t/1", "not a URL that can be called"),
    ],
)
def test_urls_that_could_carry_the_key_elsewhere_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        completion_url(url, HOSTS)


def test_http_is_allowed_only_when_asked_for() -> None:
    local = "http://127.0.0.1:5000/integrations/testing_partners/take_home_tests/1"
    with pytest.raises(ValueError, match="https"):
        completion_url(local, ("127.0.0.1",))
    assert completion_url(local, ("127.0.0.1",), allow_http=True) == local


junk = st.lists(
    st.sampled_from([*"ab.-:@\\/#?%[]1 ", "greenhouse.io", "127.0.0.1", "//"]), max_size=6
).map("".join)
urls = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["https://", "http://", "HTTPS://", "https:/", ""]),
    junk,
    st.sampled_from(["app.greenhouse.io", "greenhouse.io", "127.0.0.1", "evil.example"]),
    junk,
)


@settings(max_examples=500, deadline=None)
@given(urls)
def test_an_accepted_url_goes_where_it_was_allowed_to(raw: str) -> None:
    """Whatever was accepted, the URL sent names an allowed host by urllib3's reading, and
    contains nothing either parser could read differently."""
    try:
        sent = completion_url(raw, HOSTS)
    except ValueError:
        return
    sender, other = parse_url(sent), urlsplit(sent)
    assert sender.host is not None
    assert host_allowed(sender.host, HOSTS)
    assert (sender.auth, other.username) == (None, None)
    assert other.hostname == sender.host  # both parsers read the same host
    assert "\\" not in sent


def test_test_status_is_complete_only_with_a_profile_url() -> None:
    scored_without_links = Result(result_id="r-1", score=71)
    assert status_answer(scored_without_links, 1)["partner_status"] == "in_progress"
    with_recruitment = Result(
        result_id="r-1", score=71, recruitment_url="https://assessio.example/r/1"
    )
    answer = status_answer(with_recruitment, 2)
    assert answer["partner_status"] == "complete"
    assert answer["partner_profile_url"] == "https://assessio.example/r/1"
    assert answer["metadata"] == {"Assessio result id": "r-1", "Result version": 2}
    assert status_answer(None, None)["partner_status"] == "in_progress"
