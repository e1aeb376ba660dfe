"""The `assessio-connect` command line: signing tools, the Assessio API, the emulator, the demo.

Exit codes: 0 success, 1 an API, transport or input error (one line on stderr), 2 usage error.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from types import FrameType
from typing import IO, Any, TypeVar

import click

from assessio_connect.contract import codec
from assessio_connect.contract._version import __version__
from assessio_connect.contract.client import ENVIRONMENTS, AssessioClient, ClientSettings
from assessio_connect.contract.errors import AssessioError
from assessio_connect.contract.models import (
    AssessioConfig,
    AssessmentOrder,
    CandidateDetails,
    Recruitment,
)
from assessio_connect.contract.signing import DEFAULT_TOLERANCE, sign, verify
from assessio_connect.runtime.config import load_daemon_config
from assessio_connect.runtime.plugins import Plugins, load_plugins
from assessio_connect.sandbox import Organisation, Sandbox

from ._demo import run_demo

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


class _Failure(click.ClickException):
    """An expected failure: printed as one line on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Loads plugins (and the commands they add) on first use; turns every `AssessioError` and
    every failure a command raises as a `ClickException` into a one-line `error: …` message
    and exit code 1, never a traceback."""

    plugins: Plugins | None = None

    def load_plugins(self) -> Plugins:
        """Load plugins once and let them add their commands."""
        if self.plugins is None:
            self.plugins = load_plugins()
            self.plugins.register_commands(self)
        return self.plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.load_plugins()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssessioError as exc:
            raise _Failure(str(exc)) from None
        except KeyboardInterrupt:
            # click would say "Aborted!" and exit 1, the code of a failure.
            click.echo("interrupted", err=True)
            raise SystemExit(130) from None
        except click.UsageError:
            raise
        except click.ClickException as exc:
            if type(exc).show is not click.ClickException.show:
                raise  # it prints itself the documented way already
            # A plugin's command (or click's FileError): the same one `error: …` line.
            raise _Failure(exc.format_message()) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assessio-connect")
@click.option(
    "--strict-plugins",
    is_flag=True,
    envvar="ASSESSIO_CONNECT_STRICT_PLUGINS",
    help="Fail when any installed plugin cannot be loaded.",
)
@click.pass_context
def cli(ctx: click.Context, strict_plugins: bool) -> None:
    """Connect Applicant Tracking Systems to Assessio's Recruitment API."""
    group = ctx.command
    assert isinstance(group, _Group)
    plugins = group.load_plugins()
    ctx.obj = plugins
    if strict_plugins and plugins.failures:
        lines = [
            f"{f.name} ({f.distribution or 'no distribution'}): {f.error}" for f in plugins.failures
        ]
        raise _Failure("plugins failed to load (--strict-plugins):\n  " + "\n  ".join(lines))


def _read_body(body_file: IO[bytes]) -> bytes:
    return body_file.read()


@cli.command("sign")
@click.option("--secret", required=True, envvar="ASSESSIO_INTEGRATOR_SECRET", help="HMAC key.")
@click.option(
    "--timestamp", type=click.IntRange(min=0), help="Unix time to sign at (default: now)."
)
@click.argument("body_file", type=click.File("rb"), default="-")
def sign_command(secret: str, timestamp: int | None, body_file: IO[bytes]) -> None:
    """Print the Signature header value for BODY_FILE (or stdin), byte for byte."""
    click.echo(sign(secret, _read_body(body_file), timestamp))


@cli.command("verify")
@click.option(
    "--secret", "secrets", required=True, multiple=True, help="HMAC secret; repeat for rotation."
)
@click.option("--header", required=True, help="The Signature header value to check.")
@click.option(
    "--tolerance",
    type=click.IntRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Accepted clock skew in seconds.",
)
@click.argument("body_file", type=click.File("rb"), default="-")
def verify_command(
    secrets: tuple[str, ...], header: str, tolerance: int, body_file: IO[bytes]
) -> None:
    """Check a Signature header against BODY_FILE (or stdin); exit 0 when valid, else 1."""
    timestamp = verify(_read_body(body_file), header, secrets, tolerance=tolerance)
    click.echo(f"valid: signed at t={timestamp}")


def _api_options(func: F) -> F:
    options = [
        click.option(
            "--environment",
            type=click.Choice(sorted(ENVIRONMENTS)),
            default="sandbox",
            envvar="ASSESSIO_ENVIRONMENT",
            show_default=True,
            help="Assessio environment.",
        ),
        click.option(
            "--base-url",
            envvar="ASSESSIO_BASE_URL",
            help="Base URL (overrides --environment), e.g. the emulator's.",
        ),
        click.option(
            "--provider-key",
            required=True,
            envvar="ASSESSIO_PROVIDER_KEY",
            help="The organisation's provider-key.",
        ),
        click.option(
            "--integrator-secret",
            envvar="ASSESSIO_INTEGRATOR_SECRET",
            help="Secret that signs requests (omit where signing is switched off).",
        ),
        click.option(
            "--provider-key-header",
            default="provider-key",
            show_default=True,
            help="Header carrying the provider-key ('Authorization' sends a Bearer token).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON for machines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _client(
    environment: str,
    base_url: str | None,
    provider_key: str,
    integrator_secret: str | None,
    provider_key_header: str,
) -> AssessioClient:
    return AssessioClient(
        provider_key,
        integrator_secret,
        environment="production" if environment == "production" else "sandbox",
        base_url=base_url,
        settings=ClientSettings(provider_key_header=provider_key_header),
    )


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@cli.command("lenses")
@_api_options
def lenses_command(as_json: bool, **api: Any) -> None:
    """List the lenses and locales the organisation may order."""
    config = _client(**api).get_config()
    if as_json:
        _print_json(codec.unstructure(config))
        return
    _print_config(config)


def _print_config(config: AssessioConfig) -> None:
    width = max((len(lens.name) for lens in config.available_lenses), default=4)
    click.echo(f"{'LENS':<{width}}  ID")
    for lens in config.available_lenses:
        click.echo(f"{lens.name:<{width}}  {lens.id}")
    click.echo("")
    click.echo("LOCALES  " + ", ".join(config.available_locales))


@cli.command("order")
@_api_options
@click.option(
    "--file",
    "order_file",
    type=click.File("rb"),
    help="An assessment order as JSON (the wire format); '-' reads stdin.",
)
@click.option("--email", help="Candidate's email address.")
@click.option("--recruitment-id", help="Recruitment id (your job's stable id).")
@click.option("--title", help="Recruitment title.")
@click.option("--description", default="", help="Recruitment description.")
@click.option("--lens", help="Lens id, or a lens name looked up in the config.")
@click.option("--locale", help="Locale, e.g. sv-SE.")
@click.option("--result-update-url", help="Where Assessio sends the result.")
@click.option("--result-id", help="Your id for the result (default: a new UUID).")
@click.option(
    "--collaborator", "collaborators", multiple=True, help="Collaborator email; repeatable."
)
@click.option("--link", is_flag=True, help="Use the link endpoint and print the assessment link.")
def order_command(
    as_json: bool,
    order_file: IO[bytes] | None,
    email: str | None,
    recruitment_id: str | None,
    title: str | None,
    description: str,
    lens: str | None,
    locale: str | None,
    result_update_url: str | None,
    result_id: str | None,
    collaborators: tuple[str, ...],
    link: bool,
    **api: Any,
) -> None:
    """Send an assessment order (a candidate invite), from --file or from flags."""
    client = _client(**api)
    if order_file is not None:
        order = codec.loads(_read_body(order_file), AssessmentOrder, what="assessment order")
    else:
        order = _order_from_flags(
            client,
            email,
            recruitment_id,
            title,
            description,
            lens,
            locale,
            result_update_url,
            result_id,
            collaborators,
        )
    if link:
        answer = client.create_order_link(order)
        if as_json:
            _print_json({"resultId": order.result_id, **codec.unstructure(answer)})
        else:
            click.echo(
                f"ordered {order.result_id}; assessment link: {answer.assessment_package_link}"
            )
        return
    reference = client.create_order(order)
    if as_json:
        _print_json({"resultId": order.result_id, "reference": reference})
    else:
        click.echo(f"ordered {order.result_id}; Assessio reference: {reference}")


def _order_from_flags(
    client: AssessioClient,
    email: str | None,
    recruitment_id: str | None,
    title: str | None,
    description: str,
    lens: str | None,
    locale: str | None,
    result_update_url: str | None,
    result_id: str | None,
    collaborators: tuple[str, ...],
) -> AssessmentOrder:
    given = {
        "--email": email,
        "--recruitment-id": recruitment_id,
        "--title": title,
        "--lens": lens,
        "--locale": locale,
        "--result-update-url": result_update_url,
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (or give the order with --file)")
    lens_id = _resolve_lens(client, str(lens))
    try:
        return AssessmentOrder(
            recruitment=Recruitment(str(recruitment_id), str(title), description),
            result_update_url=str(result_update_url),
            result_id=result_id or str(uuid.uuid4()),
            lens_id=lens_id,
            locale=str(locale),
            candidate_details=CandidateDetails(str(email)),
            additional_recruitment_collaborators_emails=collaborators,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _resolve_lens(client: AssessioClient, lens: str) -> str:
    try:
        uuid.UUID(lens)
    except ValueError:
        found = client.get_config().find_lens(lens)
        if found is None:
            raise _Failure(
                f"no lens named {lens!r}; run 'assessio-connect lenses' to list them"
            ) from None
        return found.id
    return lens


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block SIGTERM stops a long-running command as Ctrl-C does, so it cleans up."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    """Console-script entry point."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


def _parse_org(value: str) -> tuple[str, str | None]:
    key, sep, secret = value.partition("=")
    if not key:
        raise click.BadParameter(f"{value!r} is not KEY or KEY=SECRET", param_hint="'--org'")
    return key, (secret if sep else None)


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--org",
    "orgs",
    multiple=True,
    help="An organisation as PROVIDER_KEY=INTEGRATOR_SECRET (or PROVIDER_KEY alone: unsigned); "
    "repeatable. Default: one organisation 'sandbox-org' with signing off.",
)
@click.option(
    "--no-signature",
    is_flag=True,
    help="Accept unsigned requests, as Assessio can in its sandbox.",
)
@click.option("--result-api-key", help="integrator-api-key sent with every result.")
@click.option("--result-signing-secret", help="Secret that signs every result delivery.")
@click.option(
    "--completion-delay",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds until a candidate completes and the result is sent.",
)
def sandbox_command(
    host: str,
    port: int,
    orgs: tuple[str, ...],
    no_signature: bool,
    result_api_key: str | None,
    result_signing_secret: str | None,
    completion_delay: float,
) -> None:
    """Run the Assessio emulator until interrupted."""
    parsed = [_parse_org(org) for org in orgs] or [("sandbox-org", None)]
    organisations = [
        Organisation(
            provider_key=key,
            integrator_secret=secret,
            require_signature=not no_signature,
            result_api_key=result_api_key,
            result_signing_secret=result_signing_secret,
        )
        for key, secret in parsed
    ]
    try:
        sandbox = Sandbox(organisations, completion_delay=completion_delay, host=host, port=port)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--org'") from None
    with _sigterm_interrupts():
        try:
            sandbox.start()  # binds the port, so `url` is known and a busy port is said now
        except (OSError, ValueError) as exc:  # ValueError: waitress cannot resolve the host
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise _Failure(f"cannot listen on {host}:{port}: {reason}") from None
        try:
            names = ", ".join(key for key, _ in parsed)
            click.echo(
                f"Assessio emulator on {sandbox.url} (organisations: {names}); Ctrl-C stops it"
            )
            click.echo(f"  export ASSESSIO_BASE_URL={sandbox.url}")
            sandbox.serve_forever()
        except KeyboardInterrupt:
            pass  # SIGINT or SIGTERM, even while the lines above are written: the way to stop
        finally:
            sandbox.stop()


@cli.command("demo")
@click.option(
    "--candidates",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Candidates per ATS.",
)
@click.option(
    "--ats",
    "kinds",
    multiple=True,
    help="Connector kinds to show (default: every installed one with a demo).",
)
@click.option("--keep-running", is_flag=True, help="Keep everything running to explore.")
@click.pass_context
def demo_command(
    ctx: click.Context, candidates: int, kinds: tuple[str, ...], keep_running: bool
) -> None:
    """Run the whole loop on this machine: emulator, fake ATSs, the daemon, write-backs."""
    plugins = ctx.find_object(Plugins)
    assert plugins is not None
    try:
        with _sigterm_interrupts():
            run_demo(
                plugins,
                candidates=candidates,
                kinds=kinds,
                keep_running=keep_running,
                echo=click.echo,
                load=lambda path: load_daemon_config(plugins, path),
            )
    except (TimeoutError, ValueError) as exc:
        raise _Failure(str(exc)) from None
    except KeyboardInterrupt:
        if not keep_running:
            raise
        # With --keep-running, SIGINT or SIGTERM is the way to stop it (everything is
        # stopped by now), even when it comes while the last lines are being written.
