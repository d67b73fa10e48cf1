"""The one exception tree. Each class carries its exit code; __main__ maps them."""

from __future__ import annotations  # annotations stay strings: no `typing` at start-up

from collections.abc import Sequence


class ShipmarkError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict:
        out = {"type": type(self).__name__, "message": self.message, "hint": self.hint}
        return out


class InputError(ShipmarkError):
    """Bad reference, flag, YAML or JUnit XML."""

    exit_code = 2


class PolicyError(ShipmarkError):
    """The policy does not let this happen; `reasons` says why, one line each."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None, reasons: Sequence[str] = ()):
        super().__init__(message, hint)
        self.reasons = list(reasons)

    def to_json(self) -> dict:
        out = super().to_json()
        out["reasons"] = self.reasons
        return out


class NothingEligibleError(PolicyError):
    """pick / rollback found no image the policy admits."""


class NotFoundError(ShipmarkError):
    """Image, tag, record or channel does not exist."""

    exit_code = 4


class RemoteError(ShipmarkError):
    """Something outside shipmark failed: registry, Jenkins, auth, network, docker daemon."""

    exit_code = 5


class RegistryError(RemoteError):
    pass


class AuthError(RemoteError):
    pass


class JenkinsError(RemoteError):
    pass


class DaemonError(RemoteError):
    pass
