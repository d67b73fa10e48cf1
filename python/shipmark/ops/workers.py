"""One bounded pool of threads per command, shared by everything the command reads at once.

A plan or a board walks many repositories, and each walk resolves several tags at a time. With
a pool per walk beside a pool per service, a cold board had 54-71 requests in flight against a
connection pool of 16 per registry: connections were opened, dropped when the pool was full, and
opened again (a TLS handshake each on a real registry). Here every such request runs on one
pool of `WORKERS` threads, the size of the store's connection pool, so a command never has more
requests in flight than connections to keep them on.

A walk running on a worker hands its own tag lookups to the same pool. It never waits for one
that has not started: it takes it back and runs it itself, so nested work cannot deadlock the
pool, and a walk keeps going while the other workers are busy with other services. Work given
from outside the pool (the services of a plan) is handed over no more than `size` at a time:
a lookup taken back stays in the queue until a worker reaches it, holding on to its walk, and
behind 500 queued services that kept every service's tag list alive to the end.
"""

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Dict, Iterable, List, TypeVar

from ..stores import POOL_SIZE

T = TypeVar("T")
R = TypeVar("R")

WORKERS = POOL_SIZE


class Workers:
    def __init__(self, size: int = WORKERS):
        self._size = size
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="shipmark",
                                        initializer=self._mark)

    def _mark(self) -> None:
        self._local.worker = True

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> List[R]:
        """fn over items on the pool, results in order. After an error no more tasks start, and
        once those running have ended the first error (in the order given) is raised. Called on
        a worker, tasks still queued are run by the caller; called from outside, the caller
        only waits and hands tasks over no more than the pool's size at a time (see the module
        docstring)."""
        items = list(items)
        if getattr(self._local, "worker", False):
            return self._help(fn, items)
        results: Dict[int, R] = {}
        errors: Dict[int, BaseException] = {}
        running: Dict[Future, int] = {}
        todo = iter(enumerate(items))
        try:
            while True:
                while not errors and len(running) < self._size:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    running[self._pool.submit(fn, nxt[1])] = nxt[0]
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        errors[i] = error
                    else:
                        results[i] = future.result()
        except BaseException:   # interrupted: nothing more starts
            self._drop(running)
            raise
        if errors:   # after the first error nothing more started: the first in order of those run
            raise errors[min(errors)]
        return [results[i] for i in range(len(items))]

    def _help(self, fn: Callable[[T], R], items: List[T]) -> List[R]:
        futures = [self._pool.submit(fn, item) for item in items]
        results: List[R] = []
        try:
            for future, item in zip(futures, items):
                results.append(fn(item) if future.cancel() else future.result())
        except BaseException:
            self._drop(futures)
            raise
        return results

    @staticmethod
    def _drop(futures) -> None:
        """What has not started never will; what has, ends before the caller goes on."""
        for future in futures:
            future.cancel()
        wait(futures)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
