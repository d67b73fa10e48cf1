"""Unit tests run on OCI layouts in tmp_path with sockets disabled: the core and ops need no network."""

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled):
    yield
