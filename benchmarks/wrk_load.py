"""Result webhooks POSTed by `wrk` (Debian's `wrk` package), a load generator in C that needs
a fraction of a core, so that the server under test is what limits the rate.

Request n of a run goes to result id `<prefix>-<n mod ids>` with a payload never sent before
(its subscores encode n, the wrk thread and the run's number): the first of each id is a new result,
every later one a new version of it, so each webhook is a write and none a duplicate.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["WRK", "result_ids", "webhook", "wrk_post"]

WRK = shutil.which("wrk")
"""The wrk binary, or None when it is not installed (`apt-get install wrk`)."""

_SCRIPT = r"""
local threads, next_tid = {}, 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  tenant, prefix, key = args[1], args[2], args[3]
  ids, round = tonumber(args[4]), tonumber(args[5])
  sent = 0
  headers = {["Content-Type"] = "application/json", ["integrator-api-key"] = key}
end

function request()
  local n = sent
  sent = sent + 1
  local id = string.format("%s-%d", prefix, n % ids)
  local body = string.format(
    '{"resultId":"%s","score":%d,"subscores":{"trait-0":%d,"trait-1":%d,"trait-2":%d,'
      .. '"trait-3":%d,"trait-4":%d},'
      .. '"recruitmentUrl":"https://app.assessio.example/recruitments/%s",'
      .. '"assessmentReportUrl":"https://app.assessio.example/reports/%s"}',
    id, n % 101, n % 101, math.floor(n / 101) % 101, math.floor(n / 10201) % 101,
    tid % 101, round % 101, id, id)
  return wrk.format("POST", "/results/" .. tenant .. "/" .. id, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"seconds":%f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
"""


def result_ids(prefix: str, ids: int) -> list[str]:
    """The result ids a run sends to (each server must know their orders)."""
    return [f"{prefix}-{k}" for k in range(ids)]


def webhook(prefix: str, ids: int, n: int, run: int) -> tuple[str, bytes]:
    """Request `n` of run number `run` as the wrk script makes it (thread 0): its result id
    and body."""
    result_id = f"{prefix}-{n % ids}"
    subscores = [n % 101, n // 101 % 101, n // 10201 % 101, 0, run % 101]
    body = {
        "resultId": result_id,
        "score": n % 101,
        "subscores": {f"trait-{k}": value for k, value in enumerate(subscores)},
        "recruitmentUrl": f"https://app.assessio.example/recruitments/{result_id}",
        "assessmentReportUrl": f"https://app.assessio.example/reports/{result_id}",
    }
    return result_id, json.dumps(body, separators=(",", ":")).encode()


def wrk_post(
    url: str,
    *,
    tenant: str,
    prefix: str,
    ids: int,
    run: int,
    api_key: str,
    seconds: float,
    connections: int,
) -> tuple[float, int]:
    """Run wrk (one thread, `connections` keep-alive connections) against `url` for
    `seconds`; returns the seconds it ran and the webhooks answered 2xx. Raises when any
    answer was not 2xx or a socket failed."""
    if WRK is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "webhooks.lua"
        script.write_text(_SCRIPT)
        completed = subprocess.run(  # noqa: S603 - wrk from PATH, arguments of our own
            [
                WRK,
                "--threads=1",
                f"--connections={connections}",
                f"--duration={max(1, round_seconds(seconds))}s",
                "--timeout=30s",
                f"--script={script}",
                url,
                "--",
                tenant,
                prefix,
                api_key,
                str(ids),
                str(run),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("WRK-RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    report = json.loads(lines[-1].removeprefix("WRK-RESULT "))
    if report["non_2xx"] or report["socket_errors"]:
        raise RuntimeError(f"{url}: not every webhook was answered 2xx: {report}")
    return float(report["seconds"]), int(report["requests"])


def round_seconds(seconds: float) -> int:
    """wrk takes whole seconds."""
    return int(seconds + 0.5)
