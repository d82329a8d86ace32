"""Cached ``RefreshingCache.get()`` against botocore's ``get_frozen_credentials()``, same run.

Run: ``python benchmarks/_cache_micro.py [iterations]``. Prints nanoseconds per call (best of
five repeats) and the ratio.
"""

from __future__ import annotations

import sys
import time
import timeit
from datetime import datetime, timedelta, timezone

from botocore.credentials import RefreshableCredentials

from fsm_auth.session._cache import Expiring, RefreshingCache


def _far_future_botocore() -> RefreshableCredentials:
    expiry = datetime.now(timezone.utc) + timedelta(days=365)
    metadata = {
        "access_key": "AKIDEXAMPLE",
        "secret_key": "bench-secret",
        "token": "bench-token",
        "expiry_time": expiry.isoformat(),
    }

    def refresh() -> dict[str, str]:
        raise AssertionError("far-future credentials must not refresh")

    return RefreshableCredentials.create_from_metadata(metadata, refresh, "bench")


def _far_future_cache() -> RefreshingCache[str]:
    def fetch(previous: str | None) -> Expiring[str]:
        raise AssertionError("a fresh cached value must not refresh")

    cache: RefreshingCache[str] = RefreshingCache(fetch, clock=time.time, name="bench")
    cache.set(Expiring("bench-token", time.time() + 365 * 86400.0))
    return cache


def _ns_per_call(call: object, number: int) -> float:
    timer = timeit.Timer("call()", globals={"call": call})
    return min(timer.repeat(repeat=5, number=number)) / number * 1e9


def main() -> None:
    number = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    cache = _far_future_cache()
    creds = _far_future_botocore()
    baseline = _ns_per_call(lambda: None, number)
    ours = _ns_per_call(cache.get, number)
    theirs = _ns_per_call(creds.get_frozen_credentials, number // 20 or 1)
    clock = _ns_per_call(time.time, number)
    print(f"python {sys.version.split()[0]}, {number} calls, best of 5")
    print(f"  time.time()                                   {clock:9.1f} ns")
    print(f"  RefreshingCache.get() (cached)                {ours:9.1f} ns")
    print(f"  RefreshableCredentials.get_frozen_credentials {theirs:9.1f} ns")
    print(f"  empty call (overhead included above)          {baseline:9.1f} ns")
    print(f"  speed-up                                      {theirs / ours:9.1f} x")
    assert cache.refresh_count == 0


if __name__ == "__main__":
    main()
