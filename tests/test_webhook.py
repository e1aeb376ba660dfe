"""Result-webhook authentication (API key and/or Signature, with rotation) and body parsing."""

from __future__ import annotations

import pytest

from assessio_connect import PayloadError, WebhookAuthenticationError, sign
from assessio_connect.contract.webhook import WebhookAuth, parse_result

BODY = b'{"resultId":"r-1","score":71,"subscores":{"Driving Leadership":73}}'
NOW = 1_700_000_000


def test_api_key_header_and_bearer_are_accepted_and_rotation_works() -> None:
    auth = WebhookAuth(api_keys=["old-key", "new-key"])
    auth.authenticate({"integrator-api-key": "old-key"}, BODY)
    auth.authenticate({"Integrator-Api-Key": "new-key"}, BODY)
    auth.authenticate({"Authorization": "Bearer new-key"}, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"integrator-api-key": ""},
        {"integrator-api-key": "wrong"},
        {"integrator-api-key": "new-ke"},
        {"Authorization": "Basic new-key"},
        {"Authorization": "Bearer wrong"},
    ],
)
def test_wrong_or_missing_api_key_is_rejected(headers: dict[str, str]) -> None:
    auth = WebhookAuth(api_keys=["new-key"])
    with pytest.raises(WebhookAuthenticationError) as caught:
        auth.authenticate(headers, BODY)
    assert "new-key" not in str(caught.value)


def test_signature_option_verifies_the_exact_body() -> None:
    auth = WebhookAuth(signing_secrets=["s3cret-old", "s3cret-new"])
    auth.authenticate({"Signature": sign("s3cret-new", BODY, NOW)}, BODY, now=NOW)
    with pytest.raises(WebhookAuthenticationError, match="does not match"):
        auth.authenticate({"Signature": sign("s3cret-new", BODY, NOW)}, BODY + b" ", now=NOW)
    with pytest.raises(WebhookAuthenticationError, match="no Signature"):
        auth.authenticate({}, BODY, now=NOW)
    with pytest.raises(WebhookAuthenticationError, match="in the past"):
        auth.authenticate({"Signature": sign("s3cret-new", BODY, NOW)}, BODY, now=NOW + 301)


def test_both_options_means_both_are_required() -> None:
    auth = WebhookAuth(api_keys=["k"], signing_secrets=["s"])
    signature = sign("s", BODY, NOW)
    auth.authenticate({"integrator-api-key": "k", "Signature": signature}, BODY, now=NOW)
    with pytest.raises(WebhookAuthenticationError):
        auth.authenticate({"Signature": signature}, BODY, now=NOW)
    with pytest.raises(WebhookAuthenticationError):
        auth.authenticate({"integrator-api-key": "k"}, BODY, now=NOW)


def test_auth_needs_a_credential_and_hides_it() -> None:
    with pytest.raises(ValueError, match="needs"):
        WebhookAuth()
    auth = WebhookAuth(api_keys=["visible?"], signing_secrets=["hidden?"])
    assert "visible?" not in repr(auth)
    assert "hidden?" not in repr(auth)


def test_parse_result_keeps_known_fields_and_ignores_unknown_ones() -> None:
    result = parse_result(
        b'{"resultId":"r-1","score":71,"subscores":{"A":1},"newField":{"x":1},'
        b'"assessmentReportUrl":"https://report"}'
    )
    assert result.result_id == "r-1"
    assert result.score == 71
    assert result.subscores == {"A": 1}
    assert result.assessment_report_url == "https://report"


def test_parse_result_lists_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_result(b'{"score":101,"subscores":{"A":"7"}}')
    problems = "\n".join(caught.value.problems)
    assert "@ $.resultId" in problems
    assert "@ $.score" in problems
    assert "@ $.subscores['A']" in problems
