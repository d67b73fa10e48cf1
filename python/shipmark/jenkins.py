"""Jenkins over its REST API, through python-jenkins.

The connection comes from JENKINS_URL, JENKINS_USER and JENKINS_API_TOKEN (the pipeline passes
the last two with `withCredentials`), read by settings.py (`Client.from_settings`). python-jenkins
keeps one requests session, so the session cookie that a CSRF crumb is bound to travels with
every request: a password login gets its crumb and cookie; an API token needs neither (Jenkins
exempts token requests from the crumb check).

Jobs are full names (`team/app`, i.e. /job/team/job/app/). Everything python-jenkins and requests
raise is translated here, once: 401 and 403 become JenkinsError, 404 NotFoundError, an unreachable
server JenkinsError. The token never appears in a message, and userinfo in JENKINS_URL is masked.
"""

import json
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import InputError, JenkinsError, NotFoundError
from .settings import JENKINS_TIMEOUT_VAR as ENV_TIMEOUT
from .settings import JENKINS_TOKEN_VAR as ENV_TOKEN
from .settings import JENKINS_URL_VAR as ENV_URL
from .settings import JENKINS_USER_VAR as ENV_USER

DEFAULT_TIMEOUT = 15.0
MANUAL_CONDITION = "hudson.plugins.promoted_builds.conditions.ManualCondition"
PROMOTION_TREE = "actions[promotions[name,promotionBuilds[number,result,building]]]"
_TAG_RE = re.compile(r"<[^>]*>")
# Promoted Builds' PromotionPermissionHelper: a manual condition that lists approvers lets exactly
# them (and administrators) approve or force; without a list, Promotion/Promote decides.
PROMOTE_PERMISSION = ("Promotion/Promote permission or, where the process's manual condition lists approvers, "
                      "to be one of them or an administrator")


@dataclass(frozen=True)
class BuildRef:
    """One build: the job's full name (`team/app`) and its number."""

    job: str
    number: int

    def __str__(self) -> str:
        return f"{self.job} #{self.number}"


def job_path(job: str) -> str:
    """`team/app` -> `job/team/job/app/`, each name quoted (multibranch names hold `%2F`)."""
    parts = job.strip("/").split("/")
    if not job.strip("/") or any(not p for p in parts):
        raise InputError(f"invalid Jenkins job name {job!r}", "write the full name, e.g. team/app")
    return "".join(f"job/{quote(p, safe='')}/" for p in parts)


def _job_from_segments(segments: Sequence[str]) -> Tuple[Optional[str], List[str]]:
    """Consume `job/NAME` pairs (after any `view/...` prefix); returns (full name, the rest)."""
    try:
        i = segments.index("job")
    except ValueError:
        return None, list(segments)
    names = []
    while i + 1 < len(segments) and segments[i] == "job":
        names.append(unquote(segments[i + 1]))
        i += 2
    return ("/".join(names) if names else None), list(segments[i:])


def parse_job(text: str) -> str:
    """A job given as `team/app`, `job/team/job/app/` or a job URL -> `team/app`."""
    if not text or not text.strip("/ "):
        raise InputError("empty Jenkins job name", "write the full name, e.g. team/app")
    value = text.strip()
    if re.match(r"^https?://", value):
        name, _ = _job_from_segments([s for s in urlsplit(value).path.split("/") if s])
        if not name:
            raise InputError(f"{value!r} is not a Jenkins job URL", "give JOB as team/app or its URL")
        return name
    segments = [s for s in value.split("/") if s]
    if segments and segments[0] == "job":
        name, rest = _job_from_segments(segments)
        if name and not rest:
            return name
    job_path(value)   # validates
    return value.strip("/")


def parse_build_url(url: Optional[str]) -> Optional[BuildRef]:
    """`https://ci/job/team/job/app/12/` -> BuildRef('team/app', 12); None if it is not one.
    Multibranch names are double-encoded in URLs (`feature%252Fx`): one unquote gives the name."""
    if not url or not re.match(r"^https?://", url):
        return None
    name, rest = _job_from_segments([s for s in urlsplit(url).path.split("/") if s])
    if not name or not rest or not rest[0].isdigit():
        return None
    return BuildRef(name, int(rest[0]))


def split_userinfo(url: str) -> Tuple[str, Optional[str], Optional[str]]:
    """`https://u:p@host/` -> (`https://host/`, u, p): credentials never stay in a URL we print."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise InputError(f"{ENV_URL} is not a URL", f"set {ENV_URL} to the Jenkins root, e.g. https://jenkins.example.com/")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    clean = urlunsplit((parts.scheme, netloc, path, "", ""))
    user = unquote(parts.username) if parts.username else None
    secret = unquote(parts.password) if parts.password else None
    return clean, user, secret


def _status_of(exc: Optional[BaseException]) -> Optional[int]:
    """python-jenkins re-raises HTTP errors as JenkinsException inside its `except` block, so
    the requests HTTPError (with the response) is on the context chain: read the status there
    rather than parse the message."""
    seen = 0
    while exc is not None and seen < 8:
        response = getattr(exc, "response", None)
        if response is not None and getattr(response, "status_code", None):
            return int(response.status_code)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _reason_of(exc: Optional[BaseException]) -> str:
    """A short, credential-free reason for a network failure."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, ConnectionResetError):
            return "connection reset"
        if type(exc).__name__ in ("RemoteDisconnected", "ProtocolError"):
            return "connection closed without an answer"
        if type(exc).__name__ in ("NameResolutionError", "gaierror"):
            return "host name not found"
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return "network error"


class Client:
    """A Jenkins controller. Requests go through python-jenkins' session (auth, crumb, cookie)."""

    def __init__(self, url: str, user: Optional[str] = None, token: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = 1):
        self.root, url_user, url_secret = split_userinfo(url)
        self.user = user or url_user
        self._token = token if token is not None else url_secret
        if self._token and not self.user:
            raise InputError(f"{ENV_TOKEN} is set but {ENV_USER} is not",
                             f"set {ENV_USER} to the user the API token belongs to")
        if self.user and not self._token:
            raise InputError(f"{ENV_USER} is set but {ENV_TOKEN} is not",
                             f"pass the API token as {ENV_TOKEN} (withCredentials usernamePassword)")
        self.timeout = timeout
        self.retries = retries
        self._server = None

    @classmethod
    def from_settings(cls, settings) -> Optional["Client"]:
        """From a shipmark.settings.Settings; None when JENKINS_URL is unset: outside Jenkins
        there is nothing to talk to."""
        url = (settings.jenkins_url or "").strip()
        if not url:
            return None
        return cls(url, settings.jenkins_user or None, settings.jenkins_api_token or None,
                   timeout=settings.jenkins_timeout)

    def __repr__(self) -> str:
        return f"<jenkins.Client {self.root} as {self.who}>"

    @property
    def who(self) -> str:
        return self.user or "anonymous"

    @property
    def server(self):
        if self._server is None:
            import jenkins as python_jenkins  # lazily: commands without Jenkins never import it
            self._server = python_jenkins.Jenkins(self.root, username=self.user, password=self._token,
                                                  timeout=self.timeout, retries=self.retries)
        return self._server

    def owns(self, url: Optional[str]) -> bool:
        """Whether `url` is on this controller (same scheme, host, port and root path). A build
        URL from another Jenkins must not be mistaken for the same-named job here."""
        if not url:
            return False
        try:
            theirs, mine = urlsplit(url), urlsplit(self.root)
            ports = {"http": 80, "https": 443}
            same = (theirs.scheme == mine.scheme and (theirs.hostname or "").lower() == (mine.hostname or "").lower()
                    and (theirs.port or ports.get(theirs.scheme)) == (mine.port or ports.get(mine.scheme)))
        except ValueError:
            return False
        return same and (theirs.path or "/").startswith(mine.path)

    def job_url(self, job: str) -> str:
        return self.root + job_path(job)

    def build_url(self, build: BuildRef) -> str:
        return f"{self.job_url(build.job)}{build.number}/"

    # -- transport -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "****")
        return text

    def _request(self, method: str, path: str, *, what: str, params: Optional[Mapping] = None,
                 data: Optional[Mapping] = None, permission: str = "Job/Read permission",
                 missing_hint: Optional[str] = None):
        import jenkins as python_jenkins
        import requests
        req = requests.Request(method, self.root + path, params=params, data=data)
        try:
            return self.server.jenkins_request(req)
        except (python_jenkins.JenkinsException, requests.RequestException) as exc:
            raise self._translate(exc, method, what, permission, missing_hint) from None

    def _translate(self, exc: BaseException, method: str, what: str, permission: str,
                   missing_hint: Optional[str]) -> Exception:
        import jenkins as python_jenkins
        import requests
        status = _status_of(exc)
        where = f"Jenkins at {self.root}"
        if status == 401:
            return JenkinsError(f"{where} rejected the credentials of user {self.who!r} (HTTP 401)",
                                f"check {ENV_USER} and {ENV_TOKEN}; a new API token is made at "
                                f"{self.root}user/{quote(self.user or 'USER')}/configure")
        if status == 403:
            hint = f"user {self.who!r} needs the {permission}"
            if self.user is None:
                hint = f"set {ENV_USER} and {ENV_TOKEN} (withCredentials) so that shipmark logs in"
            elif method == "POST":
                hint += "; a password login also needs the CSRF crumb with its session cookie: use an API token"
            return JenkinsError(f"{where} refused {what} to {self.who!r} (HTTP 403)", hint)
        if status == 404:
            return NotFoundError(f"{where} has no {what}", missing_hint or "check the job name and build number")
        if status == 400:
            return JenkinsError(f"{where} rejected {what} as a bad request (HTTP 400){self._detail(exc)}",
                                "this is a shipmark bug if it persists: report it with the Jenkins and plugin versions")
        if status:
            return JenkinsError(f"{where} failed on {what} (HTTP {status})",
                                "retry later; the Jenkins system log says why")
        if isinstance(exc, (python_jenkins.TimeoutException, requests.Timeout)):
            return JenkinsError(f"{where} did not answer {what} within {self.timeout:g}s",
                                f"check that Jenkins is up; {ENV_TIMEOUT} sets the timeout")
        return JenkinsError(f"cannot reach {where} for {what}: {_reason_of(exc)}",
                            f"check {ENV_URL} and that Jenkins is up")

    def _detail(self, exc: Optional[BaseException]) -> str:
        seen, response = 0, None
        while exc is not None and seen < 8 and response is None:
            response = getattr(exc, "response", None)
            exc = exc.__cause__ or exc.__context__
            seen += 1
        text = getattr(response, "text", "") or ""
        text = " ".join(_TAG_RE.sub(" ", text).split())[:200]
        return f": {self._scrub(text)}" if text else ""

    def get_json(self, path: str, *, what: str, tree: Optional[str] = None, **kw) -> dict:
        response = self._request("GET", path + "api/json", what=what,
                                 params={"tree": tree} if tree else None, **kw)
        try:
            return response.json()
        except ValueError:
            raise JenkinsError(f"Jenkins at {self.root} answered {what} with something that is not JSON",
                               f"set {ENV_URL} to the Jenkins root URL (a login page or proxy answers HTML)") from None

    # -- builds ----------------------------------------------------------------------------

    def build(self, build: BuildRef, tree: Optional[str] = None) -> dict:
        return self.get_json(f"{job_path(build.job)}{build.number}/", what=f"build {build}", tree=tree,
                             missing_hint=("log rotation may have deleted it; "
                                           "`shipmark jenkins builds JOB` lists what is left"))

    def job(self, job: str, tree: Optional[str] = None) -> dict:
        return self.get_json(job_path(job), what=f"job {job}", tree=tree,
                             missing_hint="give the full name with folders, e.g. team/app (as in the job URL)")

    def builds(self, job: str, fields: str = "number,url,result,building,timestamp",
               limit: int = 20) -> List[dict]:
        """The newest `limit` builds, via `allBuilds{0,N}` (`builds` stops at 100)."""
        data = self.job(job, tree=f"allBuilds[{fields}]{{0,{int(limit)}}}")
        if "allBuilds" not in data:
            raise InputError(f"Jenkins item {job} has no builds ({data.get('_class', 'not a job')})",
                             "give a job, not a folder: e.g. team/app")
        return list(data.get("allBuilds") or [])

    def artifact(self, build: BuildRef, path: str) -> bytes:
        encoded = "/".join(quote(p, safe="") for p in path.split("/") if p)
        response = self._request("GET", f"{job_path(build.job)}{build.number}/artifact/{encoded}",
                                 what=f"artifact {path} of build {build}",
                                 missing_hint="archive it in the producing build (recordImage does)")
        return response.content

    def parameters(self, build: BuildRef) -> Dict[str, object]:
        data = self.build(build, tree="actions[parameters[name,value]]")
        out: Dict[str, object] = {}
        for action in data.get("actions") or []:
            for p in (action or {}).get("parameters") or []:
                if "name" in p:
                    out[p["name"]] = p.get("value")
        return out

    def set_description(self, build: BuildRef, text: str) -> None:
        self._request("POST", f"{job_path(build.job)}{build.number}/submitDescription",
                      what=f"a new description for build {build}", data={"description": text, "Submit": "Submit"},
                      permission="Run/Update permission")

    def keep(self, build: BuildRef) -> bool:
        """Keep the build forever. `toggleLogKeep` toggles, so read first; if a concurrent caller
        toggled it back in between, toggle again. True when this call changed it."""
        if self.build(build, tree="keepLog").get("keepLog"):
            return False
        for _ in range(3):
            self._request("POST", f"{job_path(build.job)}{build.number}/toggleLogKeep",
                          what=f"keeping build {build} forever", permission="Run/Update permission")
            if self.build(build, tree="keepLog").get("keepLog"):
                return True
        raise JenkinsError(f"build {build} does not stay kept: something toggles it back",
                           f"keep it by hand at {self.build_url(build)}")

    # -- Promoted Builds -------------------------------------------------------------------

    def promotion_processes(self, job: str) -> List[str]:
        data = self.get_json(job_path(job) + "promotion/", what=f"promotion processes of job {job}",
                             tree="processes[name]",
                             missing_hint="Promoted Builds works on Freestyle jobs: promote through the "
                                          "carrier job that the shipmark Job DSL script creates")
        return [p["name"] for p in data.get("processes") or [] if p.get("name")]

    def promotions(self, build: BuildRef) -> List[dict]:
        """[{name, builds: [{number, result, building}]}] from the build's PromotedBuildAction."""
        data = self.build(build, tree=PROMOTION_TREE)
        out = []
        for action in data.get("actions") or []:
            for status in (action or {}).get("promotions") or []:
                out.append({"name": status.get("name"),
                            "builds": [{"number": b.get("number"), "result": b.get("result"),
                                        "building": bool(b.get("building"))}
                                       for b in status.get("promotionBuilds") or []]})
        return out

    def approve(self, build: BuildRef, process: str, parameters: Iterable[Tuple[str, str]] = ()) -> None:
        """The manual condition's Approve button: a form post whose `json` field carries the
        approval parameters. Jenkins ignores it silently when already approved or not allowed;
        the caller reads the status afterwards (and has checked that the process exists)."""
        form = {"parameter": [{"name": k, "value": v} for k, v in parameters]}
        path = (f"{job_path(build.job)}{build.number}/promotion/promotionProcess/{quote(process, safe='')}"
                f"/promotionCondition/{MANUAL_CONDITION}/approve")
        self._request("POST", path, what=f"approval of {process!r} for build {build}",
                      data={"json": json.dumps(form), "Submit": "Approve"}, permission=PROMOTE_PERMISSION,
                      missing_hint=(f"process {process!r} has no manual approval condition: "
                                    "use `shipmark jenkins force`"))

    def force(self, build: BuildRef, process: str) -> None:
        """The Force promotion button: `forcePromotion?name=PROCESS`."""
        self._request("POST", f"{job_path(build.job)}{build.number}/promotion/forcePromotion",
                      params={"name": process}, what=f"forced promotion {process!r} of build {build}",
                      permission=PROMOTE_PERMISSION)
