"""`WorkdayConfig`: a tenant's `[tenants.NAME.ats]` table for `kind = "workday"`, validated with
messages that say which key to fix and how."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

import attrs

from assessio_connect import Secret

__all__ = [
    "COMMENT_FIELDS",
    "DEFAULT_COMMENT",
    "DEFAULT_STATUS_ID_TYPE",
    "DEFAULT_TEST_ID_TYPE",
    "MAX_PAGE_SIZE",
    "WorkdayConfig",
]

MAX_PAGE_SIZE = 1000
MAX_LOOK_BACK = 86400.0
DEFAULT_COMMENT = "Assessio {lens}: score {score}. Report: {report_url}"
COMMENT_FIELDS = frozenset(
    {"lens", "score", "report_url", "recruitment_url", "result_id", "version", "application_id"}
)
"""The names a `comment_template` may use, each as `{name}`."""
DEFAULT_STATUS_ID_TYPE = "Recruiting_Assessment_Status_ID"
"""`wd:type` of an assessment status's Reference ID unless `status_id_type` says otherwise.
No public source confirms it: it follows Workday's `<Object>_ID` naming for the WSDL's
`Recruiting_Assessment_StatusObject` (as `Job_Application_ID` for `Job_ApplicationObject`)."""
DEFAULT_TEST_ID_TYPE = "Recruiting_Assessment_Test_ID"
"""`wd:type` of an assessment test's Reference ID unless `test_id_type` says otherwise;
unconfirmed like the status's (default values look like `RECRUITING_ASSESSMENT_TEST-6-111`)."""

_TENANT = re.compile(r"[A-Za-z0-9_.-]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_VERSION = re.compile(r"v[0-9]+(\.[0-9]+)?")
_REFERENCE_ID = re.compile(r"[^\s<>&\"']+")
_ID_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_AUTH_MODES = ("oauth", "isu")


def _to_dict(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _url_problem(value: str, key: str) -> str | None:
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return f"{key} is not a valid URL"
    if "@" in parts.netloc:
        return f"{key} must not contain credentials; use client_secret or password"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{key} must be an http:// or https:// URL, got {value!r}"
    if parts.query or parts.fragment:
        return f"{key} must not have a query or a fragment"
    return None


def _template_problem(template: str) -> str | None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"comment_template is not a valid template ({exc}); write {{name}} placeholders"
    for _text, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in COMMENT_FIELDS or spec or conversion:
            known = ", ".join(f"{{{field}}}" for field in sorted(COMMENT_FIELDS))
            return f"comment_template may only use plain placeholders {known}; found {{{name}}}"
    return None


@attrs.frozen
class WorkdayConfig:
    """How to reach one customer's Workday tenant and which of its Reference IDs to write.

    Give `host` (e.g. "wd2-impl-services1.workday.com") or `base_url` (a full URL, e.g. for a
    proxy or a test server). `auth = "oauth"` needs `client_id`, `client_secret` and
    `refresh_token`; `auth = "isu"` needs `username` (the integration system user, `@tenant`
    is added when missing) and `password`. Durations are numbers of seconds."""

    tenant: str
    """The Workday tenant name, as in `https://{host}/ccx/service/{tenant}/...`."""
    report: str
    """The RaaS report as `Owner/Report_Name` (owner: the account that owns the report)."""
    status_completed: str
    """Reference ID of the overall assessment status written with a score."""
    host: str | None = None
    base_url: str | None = None
    auth: str = "oauth"
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    token_url: str | None = None
    """Default `{base}/ccx/oauth2/{tenant}/token`."""
    username: str | None = None
    password: Secret | None = None
    recruiting_version: str = "v42.2"
    poll_interval: float = 60.0
    look_back: float = 300.0
    """Seconds re-read before the newest row already seen, for rows committed late."""
    initial_look_back: float = 86400.0
    """How far back the very first poll reads (there is no saved cursor yet)."""
    page_size: int = 100
    status_invited: str | None = None
    """When set, only rows whose assessment status has this Reference ID are invited."""
    status_in_progress: str | None = None
    """Written (instead of `status_completed`) for a result that has no score yet."""
    test_status: str | None = None
    """Reference ID of each test's status; default `status_completed`."""
    tests: Mapping[str, str] = attrs.field(factory=dict, converter=_to_dict)
    """Lens id or lens name -> Reference ID of the Workday assessment test made for it."""
    comment_template: str = DEFAULT_COMMENT
    status_id_type: str = DEFAULT_STATUS_ID_TYPE
    """`wd:type` of the status Reference IDs; check it in the tenant (a status's *View IDs*)."""
    test_id_type: str = DEFAULT_TEST_ID_TYPE
    """`wd:type` of the test Reference IDs; check it in the tenant (a test's *View IDs*)."""

    def __attrs_post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if not _TENANT.fullmatch(self.tenant):
            problems.append(
                f"tenant must be the Workday tenant name (letters, digits, _ . -), "
                f"got {self.tenant!r}"
            )
        owner, slash, name = self.report.partition("/")
        if not slash or not owner.strip() or not name.strip() or "/" in name:
            problems.append(
                f'report must be "Owner/Report_Name" as in the report\'s RaaS URL, '
                f"got {self.report!r}"
            )
        if (self.host is None) == (self.base_url is None):
            problems.append('set host (e.g. "wd2-impl-services1.workday.com") or base_url')
        elif self.host is not None and not _HOST.fullmatch(self.host):
            problems.append("host must be a host name such as wd2-impl-services1.workday.com")
        elif self.base_url is not None:
            problem = _url_problem(self.base_url, "base_url")
            if problem:
                problems.append(problem)
        problems.extend(self._auth_problems())
        if not _VERSION.fullmatch(self.recruiting_version):
            problems.append(
                f'recruiting_version must look like "v42.2", got {self.recruiting_version!r}'
            )
        problems.extend(self._number_problems())
        for key in ("status_completed", "status_invited", "status_in_progress", "test_status"):
            value = getattr(self, key)
            if value is not None and not _REFERENCE_ID.fullmatch(value):
                problems.append(f"{key} must be a Workday Reference ID, got {value!r}")
        for lens, test in self.tests.items():
            if not lens.strip():
                problems.append("tests: a key must be a lens id or lens name, not empty")
            if not _REFERENCE_ID.fullmatch(test):
                problems.append(
                    f"tests[{lens!r}] must be the Reference ID of a Workday assessment test, "
                    f"got {test!r}"
                )
        for key, example in (
            ("status_id_type", DEFAULT_STATUS_ID_TYPE),
            ("test_id_type", DEFAULT_TEST_ID_TYPE),
        ):
            value = getattr(self, key)
            if not _ID_TYPE.fullmatch(value):
                problems.append(
                    f"{key} must be the name of a Workday reference ID type such as "
                    f"{example!r} (see the object's View IDs in Workday), got {value!r}"
                )
        template = _template_problem(self.comment_template)
        if template:
            problems.append(template)
        return problems

    def _auth_problems(self) -> list[str]:
        if self.auth not in _AUTH_MODES:
            return [f'auth must be "oauth" or "isu", got {self.auth!r}']
        if self.auth == "oauth":
            missing = [
                key
                for key in ("client_id", "client_secret", "refresh_token")
                if getattr(self, key) is None
            ]
            problems = []
            if missing:
                problems.append(
                    f'auth = "oauth" needs {", ".join(missing)} (from Workday\'s Register API '
                    "Client for Integrations and Manage Refresh Tokens for Integrations)"
                )
            if self.token_url is not None:
                problem = _url_problem(self.token_url, "token_url")
                if problem:
                    problems.append(problem)
            return problems
        missing = [key for key in ("username", "password") if getattr(self, key) is None]
        if missing:
            return [f'auth = "isu" needs {", ".join(missing)} of the integration system user']
        if self.username is not None and not self.username.strip():
            return ["username must not be empty"]
        return []

    def _number_problems(self) -> list[str]:
        problems = []
        if not math.isfinite(self.poll_interval) or self.poll_interval <= 0:
            problems.append(
                f"poll_interval must be a positive number of seconds, not {self.poll_interval!r}"
            )
        for key in ("look_back", "initial_look_back"):
            value = getattr(self, key)
            if not math.isfinite(value) or value < 0:
                problems.append(f"{key} must be a number of seconds from 0, not {value!r}")
        if math.isfinite(self.look_back) and self.look_back > MAX_LOOK_BACK:
            problems.append(
                f"look_back must be at most {MAX_LOOK_BACK:g} seconds (a day); it is re-read "
                "on every poll"
            )
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            problems.append(f"page_size must be from 1 to {MAX_PAGE_SIZE}, not {self.page_size!r}")
        return problems

    # Derived values

    @property
    def api_root(self) -> str:
        """`https://{host}` or `base_url`, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return f"https://{self.host}"

    @property
    def report_url(self) -> str:
        """The RaaS report's URL, without its query."""
        owner, _, name = self.report.partition("/")
        return (
            f"{self.api_root}/ccx/service/customreport2/{quote(self.tenant, safe='')}/"
            f"{quote(owner.strip(), safe='')}/{quote(name.strip(), safe='')}"
        )

    @property
    def recruiting_url(self) -> str:
        """The Recruiting web service endpoint, e.g. `.../ccx/service/acme/Recruiting/v42.2`."""
        return f"{self.api_root}/ccx/service/{quote(self.tenant, safe='')}/Recruiting/" + (
            self.recruiting_version
        )

    @property
    def oauth_token_url(self) -> str:
        """`token_url`, or the tenant's token endpoint `{base}/ccx/oauth2/{tenant}/token`."""
        if self.token_url is not None:
            return self.token_url
        return f"{self.api_root}/ccx/oauth2/{quote(self.tenant, safe='')}/token"

    @property
    def isu_username(self) -> str:
        """The integration system user as Workday wants it: `user@tenant`."""
        user = (self.username or "").strip()
        return user if "@" in user else f"{user}@{self.tenant}"

    @property
    def test_status_id(self) -> str:
        """Reference ID of each test result's status."""
        return self.test_status or self.status_completed
