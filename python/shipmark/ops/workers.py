"""One bounded pool of threads per command, shared by everything the command reads at once.

A plan or a board walks many repositories, and each walk resolves several tags at a time. With
a pool per walk beside a pool per service, a cold board had 54-71 requests in flight against a
connection pool of 16 per registry: connections were opened, dropped when the pool was full, and
opened again (a TLS handshake each on a real registry). Here every such request runs on one
pool of `WORKERS` threads, the size of the store's connection pool, so a command never has more
requests in flight than connections to keep them on.

A walk running on a worker hands its own tag lookups to the same pool. It never waits for one
that has not started: it takes it back and runs it itself (`map`), so nested work cannot
deadlock the pool, and a walk keeps going while the other workers are busy with other services.
"""

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Iterable, List, TypeVar

from ..stores import POOL_SIZE

T = TypeVar("T")
R = TypeVar("R")

WORKERS = POOL_SIZE


class Workers:
    def __init__(self, size: int = WORKERS):
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="shipmark",
                                        initializer=self._mark)

    def _mark(self) -> None:
        self._local.worker = True

    def _on_worker(self) -> bool:
        return getattr(self._local, "worker", False)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> List[R]:
        """fn over items on the pool, results in order. The first error (in that order) is
        raised once the tasks already running have ended; the others never start. Called on a
        worker, tasks still queued are run by the caller (see the module docstring); called
        from outside, the caller only waits, so no more than the pool's size run at once."""
        items = list(items)
        futures = [self._pool.submit(fn, item) for item in items]
        inline = self._on_worker()
        results: List[R] = []
        try:
            for future, item in zip(futures, items):
                results.append(fn(item) if inline and future.cancel() else future.result())
        except BaseException:
            for future in futures:   # what has not started never will; what has, ends first
                future.cancel()
            wait(futures)
            raise
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
