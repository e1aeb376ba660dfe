"""The integrator kit's pytest plugin: fixtures for the Assessio emulator and the daemon, and the
`ConnectorConformance` suite every connector's tests should subclass.

Installed with assessio-connect and loaded by pytest through the `pytest11` entry point, so a
connector package's tests just use the fixtures (all named `assessio_*`)::

    def test_results_need_the_key(assessio_daemon_factory, assessio_result_sender): ...

    class TestMyAtsConformance(ConnectorConformance):
        connector_class = MyAtsConnector
        ...

Fixtures: `assessio_organisation` (the emulator's one organisation and its credentials),
`assessio_sandbox` (the emulator, started), `assessio_plugins` (a fresh `load_plugins()`; add
plugins with `@pytest.mark.assessio_plugins(plugin, ...)`), `assessio_daemon_factory` (starts
`RunningDaemon`s with a temporary SQLite store) and `assessio_result_sender` (posts result
webhooks with the right or deliberately wrong credentials). `BackgroundServer` serves a fake
ATS's WSGI app on 127.0.0.1 with an ephemeral port.

This module holds no assert (PYTEST_DONT_REWRITE), so a test module may import it before pytest
loads it as a plugin; the suite's module is registered for assertion rewriting below.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("assessio_connect.testing._conformance")

from assessio_connect._server import BackgroundServer  # noqa: E402 - serves fake ATSs

from ._conformance import (  # noqa: E402 - asserts are rewritten only if registered first
    AtsRequest,
    ConformanceHarness,
    ConnectorConformance,
    InvalidConfig,
    Style,
)
from ._context import RecordingContext, make_pushback  # noqa: E402
from ._fixtures import (  # noqa: E402
    DaemonFactory,
    LoggedEvent,
    ResultAuth,
    ResultSender,
    RunningDaemon,
    SentResult,
    assessio_daemon_factory,
    assessio_organisation,
    assessio_plugins,
    assessio_result_sender,
    assessio_sandbox,
    new_organisation,
    plugins_with,
    wait_until,
)
from ._toml import MISSING, SecretFiles, toml_table, toml_value, with_secret_files  # noqa: E402

__all__ = [
    "MISSING",
    "AtsRequest",
    "BackgroundServer",
    "ConformanceHarness",
    "ConnectorConformance",
    "DaemonFactory",
    "InvalidConfig",
    "LoggedEvent",
    "RecordingContext",
    "ResultAuth",
    "ResultSender",
    "RunningDaemon",
    "SecretFiles",
    "SentResult",
    "Style",
    "assessio_daemon_factory",
    "assessio_organisation",
    "assessio_plugins",
    "assessio_result_sender",
    "assessio_sandbox",
    "make_pushback",
    "new_organisation",
    "plugins_with",
    "pytest_configure",
    "toml_table",
    "toml_value",
    "wait_until",
    "with_secret_files",
]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the plugin's marker (the project runs pytest with --strict-markers)."""
    config.addinivalue_line(
        "markers",
        "assessio_plugins(*plugins, entry_points=True): extra plugins (objects or "
        "(name, plugin) pairs) for the assessio_plugins fixture",
    )
