"""One bounded pool per command: nested walks never deadlock it, errors come in order, and a
service's walk is let go when the service is done, not when the command is."""

import threading
import time
import weakref

import pytest

from shipmark.ops.workers import Workers


class Walk:
    """Stands for a service's walk and the tag list it holds."""


def test_walks_nested_in_services_finish_on_a_pool_smaller_than_the_work():
    with Workers(2) as workers:
        def service(i):
            return sum(workers.map(lambda x: x * i, range(10)))
        assert workers.map(service, range(8)) == [45 * i for i in range(8)]


def test_no_more_run_at_once_than_the_pool_holds():
    running, most = [0], [0]
    lock = threading.Lock()

    def lookup(_):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1

    with Workers(4) as workers:
        workers.map(lambda _: workers.map(lookup, range(8)), range(12))
    assert most[0] <= 4


def test_the_first_error_in_order_is_raised_and_later_work_does_not_start():
    started = []

    def service(i):
        started.append(i)
        if i in (3, 5):
            raise ValueError(f"service {i}")
        time.sleep(0.01)
        return i

    with Workers(2) as workers:
        with pytest.raises(ValueError, match="service 3"):
            workers.map(service, range(50))
    assert len(started) < 10


def test_a_finished_walk_is_let_go_while_the_command_goes_on():
    """A lookup a walk ran itself stays queued until a worker reaches it; with every service
    queued up front, that kept every finished walk (and its tag list) to the end."""
    walks, most_alive = [], [0]

    with Workers(4) as workers:
        def service(i):
            most_alive[0] = max(most_alive[0], sum(1 for w in walks if w() is not None))
            walk = Walk()
            walks.append(weakref.ref(walk))
            workers.map(lambda x: (walk, x)[1], range(4))
            return i

        workers.map(service, range(200))
    assert most_alive[0] <= 3 * 4
