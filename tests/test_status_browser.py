"""The status page in a real headless browser (Debian's chromium and chromium-driver, driven
by Selenium): a running daemon with 50 tenants and some history; sign in, read the overview,
filter it, open a tenant, trace a candidate, open a dead letter and retry it after
confirming, and see it pending again. Screenshots go to `.artifacts/status-page/`.

Skipped only when chromium is not installed outside CI; with CI=true a missing browser fails
(`.ci/run` installs it)."""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from assessio_connect.reference import ReferenceAts
from assessio_connect.runtime._logging import EventLog
from assessio_connect.runtime._sqlite_store import SQLiteStore
from assessio_connect.runtime.config import load_daemon_config
from assessio_connect.runtime.daemon import Daemon
from assessio_connect.runtime.plugins import load_plugins
from status_world import (
    ATS_TOKEN,
    OPERATOR_TOKEN,
    WEBHOOK_SECRET,
    Seeded,
    seed_history,
    write_config,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "status-page"
TENANTS = 50

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(Path(path).name)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    # The driver's path is given, so Selenium Manager has nothing to find or download.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@attrs.frozen
class World:
    daemon: Daemon
    ats: ReferenceAts
    seeded: Seeded


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with ReferenceAts(api_token=ATS_TOKEN, webhook_secret=WEBHOOK_SECRET) as ats:
        path = write_config(
            tmp_path, tenants=TENANTS, ats_url=ats.url, assessio_url="http://127.0.0.1:9"
        )
        store = SQLiteStore(tmp_path / "state.db")
        store.migrate()
        seeded = seed_history(store, tenants=TENANTS, now=time.time())
        store.close()
        plugins = load_plugins(entry_points=False)
        daemon = Daemon(load_daemon_config(plugins, path), plugins, log=EventLog(io.StringIO()))
        daemon.start()
        try:
            yield World(daemon, ats, seeded)
        finally:
            daemon.stop()


def shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(1000, min(int(height) + 40, 6000)))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1440, 1000)


def text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


class Operator:
    """The browser as an operator uses it: each action waits for the page it leads to."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        self.wait = WebDriverWait(
            driver, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
        )

    def find(self, selector: str, by: str = By.CSS_SELECTOR) -> WebElement:
        return self.driver.find_element(by, selector)

    def go(self, action: Callable[[], object], title: str) -> str:
        """Do `action` (a click, a submit), wait for the next page, whose title starts with
        `title`; returns the page's text."""
        old = self.find("html")
        action()
        self.wait.until(staleness_of(old))
        self.wait.until(lambda d: d.title.startswith(title))
        return text(self.driver)

    def kinds(self, scope: str = "") -> list[str]:
        found = self.driver.find_elements(By.CSS_SELECTOR, f"{scope} .timeline .kind")
        return [element.text for element in found]


def test_an_operator_finds_and_retries_a_dead_letter_in_the_browser(
    browser: WebDriver, world: World
) -> None:
    print(f"\nscreenshots: {ARTIFACTS}")
    seeded = world.seeded
    me = Operator(browser)

    browser.get(f"{world.daemon.url}/status/")
    assert "/status/login" in browser.current_url
    me.find("#token").send_keys("not-the-operator-token")
    page = me.go(me.find("main form button").click, "Sign in")
    assert "That token is not the operator token." in page
    shot(browser, "01-sign-in-refused")
    me.find("#token").send_keys(OPERATOR_TOKEN)

    # The overview: every tenant in one table, problems first.
    page = me.go(me.find("main form button").click, "Tenants")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.tenants tbody tr")
    assert len(rows) == TENANTS
    names = [row.find_element(By.CSS_SELECTOR, "th a").text for row in rows]
    health = [row.find_element(By.CSS_SELECTOR, ".badge").text for row in rows]
    assert names[:2] == [seeded.dead_tenant, seeded.refused_tenant]
    assert health[:2] == ["failing", "failing"]
    delayed = {name for name, h in zip(names, health, strict=True) if h == "delayed"}
    assert {seeded.retrying_tenant, seeded.waiting_tenant} <= delayed
    assert health.index("ok") > max(names.index(t) for t in delayed)
    assert "2 failing" in page
    assert ATS_TOKEN not in browser.page_source
    shot(browser, "02-overview")

    # Filtering needs no JavaScript: a GET form.
    me.find("#tenant-filter").send_keys("org-0")
    Select(me.find("#health-filter")).select_by_value("problems")
    page = me.go(me.find("form.filters button").click, "Tenants")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.tenants tbody tr")
    filtered = [row.find_element(By.CSS_SELECTOR, "th a").text for row in rows]
    assert filtered == [seeded.dead_tenant, seeded.refused_tenant, seeded.retrying_tenant]
    assert f"Showing 3 of {TENANTS} tenants." in page
    shot(browser, "03-overview-filtered")

    # A tenant's page: why it fails, its dead letter.
    page = me.go(me.find(seeded.dead_tenant, By.LINK_TEXT).click, seeded.dead_tenant)
    assert "1 dead delivery" in page
    assert "Bearer [redacted]" in page
    assert ATS_TOKEN not in browser.page_source
    shot(browser, "04-tenant")

    # Trace the candidate by e-mail, typed in another case.
    me.find("#trace-q").send_keys(seeded.dead_email.upper())
    page = me.go(me.find("#trace-q").submit, "Trace")
    assert me.kinds() == [
        "order.created",
        "order.sent",
        "result.received",
        "delivery.queued",
        "delivery.retry",
        "delivery.dead",
    ]
    assert seeded.dead_application in page
    assert "https://assess.example/take/res-03-1" in page
    assert "the ATS answered 503: busy" in page
    shot(browser, "05-trace")

    # The dead letter, and its retry after a confirmation.
    dead = seeded.dead_delivery
    me.go(me.find(f"delivery {dead}", By.LINK_TEXT).click, f"Dead letter {dead}")
    shot(browser, "06-dead-letter")
    page = me.go(me.find("Retry this delivery", By.PARTIAL_LINK_TEXT).click, "Retry delivery")
    assert f"Queue delivery {dead} of result {seeded.dead_result}" in page
    shot(browser, "07-confirm-retry")
    world.ats.fail_always(503)  # so the daemon's new attempt fails and it stays pending
    page = me.go(me.find("form button.danger").click, f"Delivery {dead}")
    assert "Queued for retry" in page

    def pending_again(driver: WebDriver) -> bool:
        me.go(driver.refresh, f"Delivery {dead}")
        state = me.find(".facts dd .badge").text
        return state == "pending" and len(me.kinds("section.attempts")) == 4

    me.wait.until(pending_again)
    assert me.kinds("section.attempts") == [
        "delivery.retry",
        "delivery.dead",
        "delivery.requeued",
        "delivery.retry",
    ]
    assert "HTTP 503" in text(browser)
    shot(browser, "08-pending-again")
