"""services.yaml: which services a deployment target runs, where their images live, which channel
and policy pick them, and the variables the deploy templates get.

target: prod                       # deployment target (default for --target)
channel: stable                    # channel for services that name none (default: stable)
policy: shipmark.yaml              # policy for services that name none
vars: {network: backend}           # variables every service gets
services:
  - name: api
    repo: registry.example.com:5000/team/api
    channel: stable                # optional
    policy: policies/api.yaml      # optional
    vars: {port: 8080}             # optional; override the top-level vars key by key

Pure: the caller parses the YAML and resolves relative paths (servicesfile.py).
"""

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Tuple

from ..errors import InputError
from . import ref as refs
from .record import check_name
from .ref import Ref

DEFAULT_CHANNEL = "stable"
# Service and target names end up in tags (`deployed.<target>`), file names and env variable names.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_TOP_KEYS = ("target", "channel", "policy", "vars", "services")
_SERVICE_KEYS = ("name", "repo", "channel", "policy", "vars")
DEPLOYED_TAG_PREFIX = "deployed."


def check_service_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InputError(f"invalid {what} {value!r}",
                         f"a {what} is 1-63 letters, digits and _ . - starting with a letter or digit")
    return value


def check_target(value: Any) -> str:
    return check_service_name("target name", value)


def deployed_tag(target: str) -> str:
    """The tag that points at the image last deployed successfully to `target`, in each repository.
    It is an ordinary (visible) tag: `docker pull app:deployed.prod` gives what prod runs."""
    return DEPLOYED_TAG_PREFIX + check_target(target)


def is_deployed_tag(tag: str) -> bool:
    return tag.startswith(DEPLOYED_TAG_PREFIX)


@dataclass(frozen=True)
class Service:
    name: str
    repo: Ref
    channel: Optional[str]              # None: the command's --channel, else the file's, else stable
    policy: Optional[str]               # None: the command's --policy, else the file's
    vars: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "repo": self.repo.name, "channel": self.channel,
                "policy": self.policy, "vars": dict(self.vars)}


@dataclass(frozen=True)
class ServicesFile:
    services: Tuple[Service, ...]
    target: Optional[str] = None
    channel: Optional[str] = None
    policy: Optional[str] = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    source: str = "services.yaml"

    def names(self) -> List[str]:
        return [s.name for s in self.services]

    def select(self, names: List[str]) -> List[Service]:
        """The named services in file order; all of them when `names` is empty."""
        if not names:
            return list(self.services)
        known = {s.name for s in self.services}
        for name in names:
            if name not in known:
                raise InputError(f"unknown service {name!r}: {self.source} has no service of that name",
                                 f"use one of: {', '.join(sorted(known))}")
        wanted = set(names)
        return [s for s in self.services if s.name in wanted]

    def default_channel(self, override: Optional[str] = None) -> str:
        """For services that name no channel: the command's --channel, else the file's, else stable."""
        return override or self.channel or DEFAULT_CHANNEL

    def channel_for(self, service: Service, override: Optional[str] = None) -> str:
        """A service's own channel wins over the command's --channel, which wins over the file's."""
        return service.channel or self.default_channel(override)

    def vars_for(self, service: Service) -> Dict[str, Any]:
        merged = dict(self.vars)
        merged.update(service.vars)
        return merged

    @classmethod
    def from_dict(cls, data: Any, source: str = "services.yaml") -> "ServicesFile":
        """Validate parsed YAML; every message names the path of the bad value."""
        def fail(path: str, what: str, hint: Optional[str] = "fix the services file; see README 'services.yaml'"
                 ) -> NoReturn:
            raise InputError(f"{source}: {path}: {what}", hint)

        if not isinstance(data, Mapping):
            fail("(top)", f"expected a mapping with 'services', got {type(data).__name__}")
        for key in data:
            if key not in _TOP_KEYS:
                fail(str(key), f"unknown key (expected one of: {', '.join(_TOP_KEYS)})")

        def name_at(path: str, value: Any, check) -> Optional[str]:
            if value is None:
                return None
            try:
                return check(value)
            except InputError as exc:
                fail(path, exc.message, exc.hint)

        def check_service_name_at(path: str, value: Any) -> str:
            try:
                return check_service_name("service name", value)
            except InputError as exc:
                fail(path, exc.message, exc.hint)

        def vars_at(path: str, value: Any) -> Dict[str, Any]:
            if value is None:
                return {}
            if not isinstance(value, Mapping):
                fail(path, f"expected a mapping of variable names to values, got {type(value).__name__}")
            for key in value:
                if not isinstance(key, str) or not key:
                    fail(f"{path}.{key}", "variable names are non-empty strings")
            return dict(value)

        def text_at(path: str, value: Any) -> Optional[str]:
            if value is None:
                return None
            if not isinstance(value, str) or not value.strip():
                fail(path, f"expected a file name, got {value!r}")
            return value

        target = name_at("target", data.get("target"), check_target)
        channel = name_at("channel", data.get("channel"), lambda v: check_name("channel", v))
        policy = text_at("policy", data.get("policy"))
        common_vars = vars_at("vars", data.get("vars"))
        raw = data.get("services")
        if not isinstance(raw, list) or not raw:
            fail("services", "expected a list of services, each with name and repo",
                 "e.g. services: [{name: api, repo: registry.example.com/team/api}]")
        services: List[Service] = []
        first_seen: Dict[str, str] = {}
        repos: Dict[str, Tuple[str, Service]] = {}
        for i, entry in enumerate(raw):
            path = f"services[{i}]"
            if not isinstance(entry, Mapping):
                fail(path, f"expected a mapping with name and repo, got {type(entry).__name__}")
            name = entry.get("name")
            if name is None:
                fail(path, "missing 'name'")
            name = check_service_name_at(f"{path}.name", name)
            path = f"services[{i}] ({name})"
            for key in entry:
                if key not in _SERVICE_KEYS:
                    fail(f"{path}.{key}", f"unknown key (expected one of: {', '.join(_SERVICE_KEYS)})")
            if name in first_seen:
                fail(f"{path}.name", f"duplicate service {name!r}, first defined at {first_seen[name]}",
                     "give every service its own name")
            first_seen[name] = f"services[{i}]"
            repo_text = entry.get("repo")
            if not isinstance(repo_text, str):
                fail(f"{path}.repo", "missing repository, e.g. repo: registry.example.com/team/api")
            try:
                repo = refs.parse_repo(repo_text)
            except InputError as exc:
                fail(f"{path}.repo", exc.message, exc.hint)
            service = Service(
                name=name, repo=repo,
                channel=name_at(f"{path}.channel", entry.get("channel"), lambda v: check_name("channel", v)),
                policy=text_at(f"{path}.policy", entry.get("policy")),
                vars=vars_at(f"{path}.vars", entry.get("vars")))
            # Deployments are tracked per repository and target (one `deployed.<target>` tag), so
            # services that share a repository must pick the same image.
            if repo.name in repos:
                other_path, other = repos[repo.name]
                if (other.channel, other.policy) != (service.channel, service.policy):
                    fail(f"{path}.repo", f"repository {repo.name} is also used by {other_path} with "
                         "another channel or policy",
                         "services that share a repository must use the same channel and policy")
            else:
                repos[repo.name] = (path, service)
            services.append(service)
        return cls(tuple(services), target, channel, policy, common_vars, source)
