"""What every command needs, built once from flags and environment: clock, settings, actor,
stores, policy, output. Commands get it instead of reading the environment themselves."""

from __future__ import annotations  # annotations stay strings: core loads when a command uses it

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..errors import InputError
from ..settings import Settings

if TYPE_CHECKING:   # `tag`, `keygen` and `jenkins` read no image and no policy
    from ..core.policy import Policy
    from ..core.ref import Ref


class Context:
    def __init__(self, args):
        self.args = args
        # Every value is checked now: a bad flag or variable stops the command before it acts.
        self.settings = Settings(args).check()
        self.now = datetime.now(timezone.utc)
        self._stores: Dict[str, Any] = {}

    @property
    def by(self) -> str:
        """Who acts: --by, SHIPMARK_BY, the Jenkins build (`record --build-url`, BUILD_URL),
        else the login name."""
        import getpass
        return self.settings.by or self.settings.build_url or getpass.getuser()

    def store(self, ref: Ref):
        from ..stores import open_store
        key = f"{ref.scheme}://{ref.registry}"
        if key not in self._stores:
            self._stores[key] = open_store(ref, self.settings)
        return self._stores[key]

    def jenkins(self):
        """The Jenkins REST client from JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN, or None
        when JENKINS_URL is unset (outside Jenkins)."""
        if not hasattr(self, "_jenkins"):
            from ..jenkins import Client
            self._jenkins = Client.from_settings(self.settings)
        return self._jenkins

    def signer(self):
        """The signing key (--signing-key / SHIPMARK_SIGNING_KEY, its password from
        SHIPMARK_SIGNING_KEY_PASSWORD), or None: records are then written unsigned. Writing
        commands ask before they write, so a bad key stops them with nothing written."""
        if not hasattr(self, "_signer"):
            path = self.settings.signing_key
            self._signer = None
            if path:
                from ..keys import load_private
                self._signer = load_private(path, self.settings.signing_key_password)
        return self._signer

    def policy(self, repo: Optional[Ref] = None, required: bool = True,
               from_promotion: bool = False) -> Optional[Policy]:
        """A policy always applies: --policy FILE, else SHIPMARK_POLICY, else ./shipmark.yaml,
        else the policy published in `repo`'s registry; none is an error (exit 2) unless
        --no-policy says so. Inside a Promoted Builds process only --policy and the published
        policy count: the environment and the workspace are the build's to set. Commands that
        only read (`required=False`) get None, and then check records without signers."""
        from .. import policyfile
        from ..core.policy import Policy
        if getattr(self.args, "no_policy", False):
            if getattr(self.args, "policy", None):
                raise InputError("--policy and --no-policy contradict each other", "pass one of them")
            return Policy.open()
        path = self.settings.from_flag("policy")
        if not path and not from_promotion:
            path = self.settings.policy or policyfile.default_path()
        if path:
            return policyfile.load(path)
        if repo is not None:
            published = self.published_policy(repo)
            if published is not None:
                return published.policy
        if not required:
            return None
        where = f" for {repo.name}" if repo is not None else ""
        raise InputError(f"no policy{where}: nothing says which images may enter a channel",
                         policyfile.NO_POLICY_HINT)

    def published_policy(self, repo: Ref):
        from ..ops import policydoc
        key = None
        key_path = self.settings.policy_key
        if key_path:
            from ..keys import public_key
            key = public_key(key_path, ".")[0]
        return policydoc.fetch(store=self.store(repo), repo=repo.repo, policy_key=key)

    def image(self, text: str) -> Ref:
        from ..core import ref as refs
        return refs.parse_image(text)

    def repo(self, text: str) -> Ref:
        from ..core import ref as refs
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

    def close(self, keep_cache: bool = True) -> None:
        if self._stores:
            from ..stores import discovery
            if keep_cache:
                discovery.flush()
            else:
                discovery.discard()
        for store in self._stores.values():
            store.close()
