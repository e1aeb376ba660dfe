"""Benchmarks for the core, as ratios against a bare baseline measured in the same run.

(a) signing throughput: `assessio_connect.sign()` vs bare `hmac` over the same bodies;
(b) orders per second: `AssessioClient.create_order()` vs a bare urllib3 loop posting the same
    pre-signed bytes to the same emulator.

Rounds alternate between ours and the baseline so that drift on a busy machine hits both; the
reported ratio is the median over rounds. Run with `make bench` or
`python benchmarks/client_and_signing.py [--rounds N] [--orders N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import urllib3

from assessio_connect import (
    AssessioClient,
    AssessmentOrder,
    CandidateDetails,
    Recruitment,
    codec,
    sign,
)
from assessio_connect.contract.transport import USER_AGENT
from assessio_connect.sandbox import Organisation, Sandbox

SECRET = "benchmark-integrator-secret"
KEY = "benchmark-provider-key"
T = TypeVar("T")
LENS = "7922dd91-1b44-43e4-a740-7c4d9c2fba41"


def _rate(operation: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        operation()
    return count / (time.perf_counter() - start)


def _rate_over(items: Sequence[T], send: Callable[[T], None]) -> float:
    start = time.perf_counter()
    for item in items:
        send(item)
    return len(items) / (time.perf_counter() - start)


def signing_ratio(rounds: int, count: int) -> tuple[float, float, float]:
    """Median ratio, and our and the baseline's median operations per second."""
    body = codec.dumps(_order("sign-0")).replace(b"sign-0", b"x" * 6)
    key = SECRET.encode()
    timestamp = 1_700_000_000

    def ours() -> None:
        sign(SECRET, body, timestamp)

    def bare() -> None:
        hmac.new(key, b"%d." % timestamp + body, hashlib.sha256).hexdigest()

    ours_rates, bare_rates = [], []
    for _ in range(rounds):
        bare_rates.append(_rate(bare, count))
        ours_rates.append(_rate(ours, count))
    ratios = [o / b for o, b in zip(ours_rates, bare_rates, strict=True)]
    return statistics.median(ratios), statistics.median(ours_rates), statistics.median(bare_rates)


def _order(result_id: str) -> AssessmentOrder:
    return AssessmentOrder(
        recruitment=Recruitment("bench-job", "Benchmark role", "A recruitment for benchmarks"),
        result_update_url=f"http://127.0.0.1:9/results/bench/{result_id}",
        result_id=result_id,
        lens_id=LENS,
        locale="sv-SE",
        candidate_details=CandidateDetails(f"{result_id}@example.com"),
    )


def orders_ratio(rounds: int, count: int) -> tuple[float, float, float]:
    """Median ratio, and our and the baseline's median orders per second."""
    organisation = Organisation(provider_key=KEY, integrator_secret=SECRET)
    with Sandbox([organisation], completion_delay=None) as sandbox:
        url = sandbox.url + "/recruitment/v1/assessment-order"
        client = AssessioClient(KEY, SECRET, base_url=sandbox.url)
        pool = urllib3.PoolManager(maxsize=1)
        headers = {
            "provider-key": KEY,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

        def ours(order: AssessmentOrder) -> None:
            client.create_order(order)

        def bare(presigned: tuple[bytes, str]) -> None:
            body, signature = presigned
            response = pool.request(
                "POST",
                url,
                body=body,
                headers={**headers, "Signature": signature},
                retries=False,
            )
            if response.status != 200:
                raise RuntimeError(f"baseline order failed: {response.status}")

        ours_rates, bare_rates = [], []
        for round_index in range(rounds):
            ours_orders = [_order(f"c{round_index}-{i}") for i in range(count)]
            bodies = [codec.dumps(_order(f"b{round_index}-{i}")) for i in range(count)]
            now = int(time.time())
            presigned = [(body, sign(SECRET, body, now)) for body in bodies]
            if round_index % 2:
                ours_rates.append(_rate_over(ours_orders, ours))
                bare_rates.append(_rate_over(presigned, bare))
            else:
                bare_rates.append(_rate_over(presigned, bare))
                ours_rates.append(_rate_over(ours_orders, ours))
        accepted = len(sandbox.orders(KEY))
        if accepted != 2 * rounds * count:
            raise RuntimeError(f"the emulator accepted {accepted} orders, not {2 * rounds * count}")
    ratios = [o / b for o, b in zip(ours_rates, bare_rates, strict=True)]
    return statistics.median(ratios), statistics.median(ours_rates), statistics.median(bare_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--signatures", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    ratio, ours, bare = signing_ratio(args.rounds, args.signatures)
    print(
        f"(a) signing:  sign() {ours:,.0f}/s vs bare hmac {bare:,.0f}/s"
        f"  ratio {ratio:.2f} (aim >= 0.80)"
    )
    ratio, ours, bare = orders_ratio(args.rounds, args.orders)
    print(
        f"(b) orders:   AssessioClient {ours:,.0f}/s vs bare urllib3 {bare:,.0f}/s"
        f"  ratio {ratio:.2f} (aim >= 0.85)"
    )


if __name__ == "__main__":
    main()
