"""What every command needs, built once from flags and environment: clock, actor, stores,
policy, output. Commands get it instead of reading os.environ themselves."""

import os
import sys
from datetime import datetime, timezone
from typing import Dict, Optional

from ..core import ref as refs
from ..core.policy import Policy
from ..core.ref import Ref

# Every setting that has an environment variable, in one place: flag, then variable, then default.
ENVIRONMENT = {
    "policy": "SHIPMARK_POLICY",
    "by": "SHIPMARK_BY",
    "description_format": "SHIPMARK_DESCRIPTION_FORMAT",
}


def setting(args, name: str, default: Optional[str] = None) -> Optional[str]:
    value = getattr(args, name, None)
    if value not in (None, ""):
        return value
    return os.environ.get(ENVIRONMENT.get(name, ""), "") or default


class Context:
    def __init__(self, args):
        self.args = args
        self.now = datetime.now(timezone.utc)
        self._stores: Dict[str, object] = {}

    @property
    def by(self) -> str:
        """Who acts: --by, SHIPMARK_BY, the Jenkins build (BUILD_URL, or `record --build-url`),
        else the login name."""
        import getpass
        return (setting(self.args, "by") or os.environ.get("BUILD_URL")
                or getattr(self.args, "build_url", None) or getpass.getuser())

    def store(self, ref: Ref):
        from ..stores import open_store
        key = f"{ref.scheme}://{ref.registry}"
        if key not in self._stores:
            self._stores[key] = open_store(ref)
        return self._stores[key]

    def jenkins(self):
        """The Jenkins REST client from JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN, or None
        when JENKINS_URL is unset (outside Jenkins)."""
        if not hasattr(self, "_jenkins"):
            from ..jenkins import Client
            self._jenkins = Client.from_env(os.environ)
        return self._jenkins

    def policy(self) -> Policy:
        from .. import policyfile
        return policyfile.load(setting(self.args, "policy"))

    def image(self, text: str) -> Ref:
        return refs.parse_image(text)

    def repo(self, text: str) -> Ref:
        return refs.parse_repo(text)

    def progress(self):
        """A scan counter on stderr, only for people watching a terminal."""
        if getattr(self.args, "json", False) or not sys.stderr.isatty():
            return None

        def show(done: int, total: int) -> None:
            sys.stderr.write(f"\rscanning {done}/{total} tags")
            if done >= total:
                sys.stderr.write("\r" + " " * 40 + "\r")
            sys.stderr.flush()
        return show

    def close(self) -> None:
        if self._stores:
            from ..stores import discovery
            discovery.flush()
        for store in self._stores.values():
            store.close()
