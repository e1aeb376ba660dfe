"""`assessio-connect workday tests`: the assessment tests to create in Workday, read from the
emulator's lenses through the installed plugin, as a table and as CSV. The command line runs
as an operator runs it, in its own process."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from workday_world import GENERAL, LEADERSHIP, World, make_config, world

from assessio_connect import Lens
from assessio_connect_workday._cli import planned_tests, unmatched_keys


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as built:
        yield built


def run(w: World, *extra: str) -> tuple[int, str, str]:
    config = w.write_config()
    text = config.read_text().replace(
        '"General Performance" = "ASSESSIO_GENERAL_PERFORMANCE"',
        '"General Performance" = "ASSESSIO_GENERAL_PERFORMANCE"\n'
        f'"{LEADERSHIP.id}" = "ASSESSIO_LEAD"\n'
        '"Retired Lens" = "ASSESSIO_OLD"',
    )
    config.write_text(text)
    return assessio_connect("workday", "tests", "--config", str(config), "--tenant", "acme", *extra)


def assessio_connect(*args: str) -> tuple[int, str, str]:
    """Run the command line; its exit code, stdout and stderr."""
    done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "assessio_connect", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_tests_lists_every_lens_with_its_reference_id(w: World) -> None:
    code, out, err = run(w)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == [
        "TEST",
        "NAME",
        "REFERENCE",
        "ID",
        "ASSESSIO",
        "LENS",
        "ID",
        "MAPPED",
    ]
    rows = {line.split("  ")[0]: line.split() for line in lines[1:5]}
    assert rows["Assessio General Performance"][-3:] == [
        "ASSESSIO_GENERAL_PERFORMANCE",
        GENERAL.id,
        "yes",
    ]
    assert rows["Assessio Leadership"][-3:] == ["ASSESSIO_LEAD", LEADERSHIP.id, "yes"]
    assert rows["Assessio Customer Service"][-2:] == ["a775e7f3-0088-473c-a732-af145b64d24b", "no"]
    assert "ASSESSIO_CUSTOMER_SERVICE" in rows["Assessio Customer Service"]
    assert "2 lens(es) not mapped yet" in out
    assert '"1650ccfe-5e70-4732-89e6-123af02f2a6d" = "ASSESSIO_SALES"   # Sales' in out
    assert "ats.tests key 'Retired Lens' matches no lens" in err


def test_tests_as_csv(w: World) -> None:
    code, out, _ = run(w, "--csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["Test Name", "Reference ID", "Assessio Lens ID", "Assessio Lens", "Mapped"]
    assert rows[1] == [
        "Assessio General Performance",
        "ASSESSIO_GENERAL_PERFORMANCE",
        GENERAL.id,
        "General Performance",
        "yes",
    ]
    assert [row[1] for row in rows[1:]] == [
        "ASSESSIO_GENERAL_PERFORMANCE",
        "ASSESSIO_LEAD",
        "ASSESSIO_CUSTOMER_SERVICE",
        "ASSESSIO_SALES",
    ]


def test_tests_reports_an_unknown_tenant_as_one_line(w: World) -> None:
    config = w.write_config()
    code, out, err = assessio_connect(
        "workday", "tests", "--config", str(config), "--tenant", "globex"
    )
    assert code == 1
    assert "no tenant named 'globex'" in err
    assert "Traceback" not in out + err


def test_suggestions_are_unique_and_unmatched_keys_found(w: World) -> None:
    config = make_config(w.workday, tests={"Sales": "ASSESSIO_SALES_AND_MORE", "Gone": "X"})
    lenses = [Lens("a", "Sales & More"), Lens("b", "Sales and more"), Lens("c", "Sales")]
    rows = planned_tests(lenses, config)
    assert [(r.reference_id, r.mapped) for r in rows] == [
        ("ASSESSIO_SALES_MORE", False),
        ("ASSESSIO_SALES_AND_MORE_2", False),
        ("ASSESSIO_SALES_AND_MORE", True),
    ]
    assert unmatched_keys(lenses, config) == ["Gone"]
