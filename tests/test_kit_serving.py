"""Serving a fake through `assessio_connect.testing`: `ServedApp` works and imports without
pytest (a demo serves fakes at run time), while the pytest plugin still loads through its entry
point and finds every fixture."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import urllib3

from assessio_connect import Answer, Request, Routes
from assessio_connect.testing import ServedApp

pytest_plugins = ["pytester"]

BLOCK_PYTEST = """
import sys


class BlockPytest:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ImportError(f"pytest is not installed here ({name})")
        return None


sys.meta_path.insert(0, BlockPytest())
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(BLOCK_PYTEST) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Hello(ServedApp):
    _what = "hello fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def wsgi_app(self) -> Routes:
        routes = Routes()

        @routes.route("GET", "/hello/{name}")
        def hello(request: Request) -> Answer:
            self.calls += 1
            return Answer.json(200, {"hello": request.params["name"]})

        return routes


def test_a_served_app_starts_answers_and_stops() -> None:
    fake = Hello()
    with pytest.raises(RuntimeError, match="the hello fake is not serving"):
        _ = fake.url
    http = urllib3.PoolManager(retries=False)
    try:
        with fake:
            assert fake.start() is fake, "start() is idempotent"
            response = http.request("GET", fake.url + "/hello/ada")
            assert (response.status, response.json()) == (200, {"hello": "ada"})
        assert fake.calls == 1, "the state stays readable after stop()"
        assert fake.serving == "not started"
    finally:
        http.clear()


def test_a_served_app_must_say_what_it_serves() -> None:
    with pytest.raises(NotImplementedError, match="must implement wsgi_app"):
        ServedApp().start()


def test_serving_and_the_kit_import_without_pytest() -> None:
    done = _run(
        """
        from assessio_connect.testing import BackgroundServer, RecordingContext, ServedApp
        from assessio_connect.kit import Routes
        import assessio_connect.testing

        loaded = sorted(m for m in sys.modules if "pytest" in m)
        assert loaded == [], loaded
        try:
            from assessio_connect.testing import ConnectorConformance
        except ImportError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "ConnectorConformance needs pytest (pip install pytest)" in done.stdout


def test_importing_the_package_loads_no_werkzeug() -> None:
    done = _run(
        """
        import assessio_connect

        assert "werkzeug" not in sys.modules
        assessio_connect.Routes()
        assert "werkzeug.routing" in sys.modules
        """
    )
    assert done.returncode == 0, done.stderr


def test_the_pytest_plugin_still_provides_its_fixtures_and_suite(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_uses_the_plugin="""
        from assessio_connect.testing import ConnectorConformance, ServedApp, wait_until


        def test_fixtures(assessio_organisation, assessio_sandbox):
            assert assessio_sandbox.url.startswith("http://127.0.0.1:")
            assert wait_until(lambda: assessio_organisation.provider_key)


        def test_suite_is_a_class():
            assert ConnectorConformance.__name__ == "ConnectorConformance"


        import pytest


        @pytest.mark.assessio_plugins()
        def test_marker_is_declared():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)
