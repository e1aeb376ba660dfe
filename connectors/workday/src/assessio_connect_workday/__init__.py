"""assessio-connect-workday: the Workday Recruiting connector (`kind = "workday"`, pull style).

- **In:** it polls a RaaS custom report of job applications at the assessment step,
  `GET {base}/ccx/service/customreport2/{tenant}/{owner}/{report}?format=json&Updated_From=...`,
  from a cursor kept in the daemon's store, re-reading `look_back` seconds so rows Workday
  commits late are not missed, and invites each new application once.
- **Out:** each result version is written with the Recruiting web service's SOAP operation
  `Assess_Candidate` (`{base}/ccx/service/{tenant}/Recruiting/v42.2`) as Workday's schema
  orders it: the date, the overall assessment status and comment, and the lens's assessment
  test with its score, status, date and report link (`Assessment_Test_Results_URL`), all by
  the customer's own Reference IDs, whose ID type names are settings. It sets the state, so
  repeats are harmless.
- **Auth:** OAuth 2.0 with a refresh token (`{base}/ccx/oauth2/{tenant}/token`; a rotated one
  is kept in the daemon's store), or an integration system user (HTTP Basic for RaaS,
  WS-Security UsernameToken for SOAP).

`assessio-connect workday tests` lists the assessment tests a customer must create in Workday.
`assessio_connect_workday.fake.FakeWorkday` is a stateful fake of a tenant for tests and demos
that restates Workday's contract (it validates requests against Workday's schema).
See README.md for the configuration and the report's columns.
"""

from __future__ import annotations

from ._config import (
    COMMENT_FIELDS,
    DEFAULT_COMMENT,
    DEFAULT_STATUS_ID_TYPE,
    DEFAULT_TEST_ID_TYPE,
    MAX_PAGE_SIZE,
    WorkdayConfig,
)
from ._connector import WorkdayConnector
from ._demo import WorkdayDemo
from ._report import COLUMNS

__all__ = [
    "COLUMNS",
    "COMMENT_FIELDS",
    "DEFAULT_COMMENT",
    "DEFAULT_STATUS_ID_TYPE",
    "DEFAULT_TEST_ID_TYPE",
    "MAX_PAGE_SIZE",
    "WorkdayConfig",
    "WorkdayConnector",
    "WorkdayDemo",
]
