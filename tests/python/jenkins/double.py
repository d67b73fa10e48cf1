"""A Jenkins REST double on 127.0.0.1 for python-jenkins to talk to as to a controller.

It serves the captured shapes in tests/fixtures/jenkins/ (rewritten to its own address) and
behaves like Jenkins where shipmark depends on it:
- Basic auth: an API token or a password; a wrong one gets 401, anonymous gets 403.
- CSRF: `crumbIssuer/api/json` issues a crumb bound to the web session (JSESSIONID cookie). A POST
  with a password login needs that crumb and the same session's cookie, else 403; an API token
  skips the check. `csrf=False` makes crumbIssuer 404, as with CSRF protection off.
- Job and build JSON at depth 0, `tree=` with nested fields and `{M,N}` ranges, `builds` capped at
  100 and `allBuilds` uncapped, `result: null` while building, folders `/job/a/job/b/`.
- `submitDescription`, `toggleLogKeep` (toggles; keeping needs Run/Update, unkeeping Run/Delete),
  `artifact/<path>`, Promoted Builds: `promotion/api/json` (processes), `PromotedBuildAction`
  in the build's actions, the manual condition's `approve` form (400 without `json`; silently
  ignored when already approved or not allowed, like the plugin) and `forcePromotion?name=`.
  Who may approve or force follows PromotionPermissionHelper (listed approvers need no
  Promotion/Promote; others then need Administer). Approve and Force qualify the build at once and
  queue the promotion: `queue_promotions = True` holds it (`start_queued()` runs it), so the
  Status is there with no promotion build, as on a busy controller.
- Faults: `break_after(n)` drops every connection after n more requests; `stop()` refuses them.
"""

import base64
import copy
import hashlib
import json
import os
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Set
from urllib.parse import parse_qs, quote, unquote, urlsplit

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "jenkins")
EXAMPLE_ROOT = "http://jenkins.example.com/"
MANUAL_CONDITION = "hudson.plugins.promoted_builds.conditions.ManualCondition"
ALL_PERMISSIONS = frozenset({"read", "update", "delete", "promote", "administer"})
PERMALINKS = {"lastBuild": lambda b: True, "lastCompletedBuild": lambda b: not b["building"],
              "lastSuccessfulBuild": lambda b: b["result"] in ("SUCCESS", "UNSTABLE")}
VERSION = "2.452.3"


def fixture(name: str, root: Optional[str] = None):
    """A fixture file, its URLs moved from jenkins.example.com to `root`."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as fh:
        text = fh.read()
    if root:
        text = text.replace(EXAMPLE_ROOT, root)
    return json.loads(text)


# -- tree= ------------------------------------------------------------------------------------

def parse_tree(text: str):
    """`a,b[c,d{0,2}]{1,}` -> [(name, subtree or None, (start, stop) or None)]."""
    pos = 0

    def items():
        nonlocal pos
        out = []
        while True:
            m = re.compile(r"[A-Za-z0-9_$]+").match(text, pos)
            if not m:
                raise ValueError(f"bad tree at {pos}: {text!r}")
            name, pos = m.group(0), m.end()
            sub = rng = None
            if pos < len(text) and text[pos] == "[":
                pos += 1
                sub = items()
                if pos >= len(text) or text[pos] != "]":
                    raise ValueError(f"unclosed [ in {text!r}")
                pos += 1
            if pos < len(text) and text[pos] == "{":
                end = text.index("}", pos)
                rng = parse_range(text[pos + 1:end])
                pos = end + 1
            out.append((name, sub, rng))
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            return out

    result = items()
    if pos != len(text):
        raise ValueError(f"trailing text in tree {text!r}")
    return result


def parse_range(spec: str):
    """Jenkins ranges: {M,N} = M..N-1, {M,} = from M, {,N} = first N, {N} = just N."""
    if "," not in spec:
        n = int(spec)
        return n, n + 1
    start, stop = spec.split(",", 1)
    return (int(start) if start else 0), (int(stop) if stop else None)


def apply_tree(value, spec):
    if isinstance(value, list):
        return [apply_tree(v, spec) for v in value]
    if not isinstance(value, dict):
        return value
    out = {"_class": value["_class"]} if "_class" in value else {}
    for name, sub, rng in spec:
        if name not in value:
            continue
        v = value[name]
        if isinstance(v, list) and rng:
            v = v[rng[0]:rng[1]]
        if sub is not None:
            v = apply_tree(v, sub)
        elif isinstance(v, dict):
            v = {"_class": v["_class"]} if "_class" in v else {}
        elif isinstance(v, list):
            v = [({"_class": x["_class"]} if "_class" in x else {}) if isinstance(x, dict) else x for x in v]
        out[name] = v
    return out


def ref_of(build: dict) -> dict:
    return {"_class": build["_class"], "number": build["number"], "url": build["url"]}


# -- the model --------------------------------------------------------------------------------

@dataclass
class User:
    name: str
    password: Optional[str] = None
    token: Optional[str] = None
    permissions: Set[str] = field(default_factory=lambda: set(ALL_PERMISSIONS))


@dataclass
class Item:
    full_name: str
    kind: str                                  # folder | workflow | freestyle
    data: dict                                 # the job JSON template
    builds: Dict[int, dict] = field(default_factory=dict)
    artifacts: Dict[int, Dict[str, bytes]] = field(default_factory=dict)
    processes: List[str] = field(default_factory=list)
    manual: Dict[str, Optional[List[str]]] = field(default_factory=dict)   # process -> approvers
    approvals: Dict[int, Set[str]] = field(default_factory=dict)
    promotion_numbers: Dict[str, int] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    user: Optional[str]
    auth: str                                  # token | password | anonymous | rejected
    crumb: bool
    form: Dict[str, List[str]]


class JenkinsDouble:
    def __init__(self, csrf: bool = True, anonymous_read: bool = False, prefix: str = "/"):
        self.csrf = csrf
        self.anonymous_read = anonymous_read
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.users: Dict[str, User] = {}
        self.items: Dict[str, Item] = {}
        self.sessions: Dict[str, str] = {}     # session id -> user name ("" for anonymous)
        self.seen: List[Seen] = []
        self.lock = threading.RLock()
        self._salt = secrets.token_hex(8)
        self.queue_promotions = False
        self.queued: List[tuple] = []
        self._fail_after: Optional[int] = None
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "JenkinsDouble":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.double = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jenkins-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Jenkins goes away: the port refuses new connections, open ones are dropped."""
        self.break_after(0)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def break_after(self, requests: Optional[int]) -> None:
        """Answer `requests` more requests, then drop every connection unanswered (None: heal)."""
        with self.lock:
            self._fail_after = requests

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    # -- setup -------------------------------------------------------------------------------

    def add_user(self, name: str, password: Optional[str] = None, token: Optional[str] = None,
                 permissions=ALL_PERMISSIONS) -> User:
        user = User(name, password, token, set(permissions))
        self.users[name] = user
        return user

    def _job_url(self, full_name: str) -> str:
        return self.url + "".join(f"job/{quote(p, safe='')}/" for p in full_name.split("/"))

    def _display(self, full_name: str) -> str:
        return " » ".join(full_name.split("/"))

    def add_folder(self, full_name: str) -> Item:
        data = fixture("folder.json", self.url)
        name = full_name.split("/")[-1]
        data.update(name=name, displayName=name, fullName=full_name, fullDisplayName=self._display(full_name),
                    url=self._job_url(full_name), jobs=[])
        return self._add(Item(full_name, "folder", data))

    def add_job(self, full_name: str, kind: str = "workflow", processes=(), manual=None) -> Item:
        """kind: workflow (Pipeline) or freestyle (may own promotion processes; `manual` maps a
        process to its approvers, None = anyone with Promotion/Promote)."""
        data = fixture("workflow-job.json" if kind == "workflow" else "freestyle-job.json", self.url)
        name = full_name.split("/")[-1]
        data.update(name=name, displayName=name, fullName=full_name, fullDisplayName=self._display(full_name),
                    url=self._job_url(full_name))
        item = Item(full_name, kind, data, processes=list(processes), manual=dict(manual or {}))
        return self._add(item)

    def _add(self, item: Item) -> Item:
        with self.lock:
            parent = item.full_name.rpartition("/")[0]
            if parent:
                folder = self.items.get(parent) or self.add_folder(parent)
                folder.data["jobs"].append({"_class": item.data["_class"], "name": item.data["name"],
                                            "url": item.data["url"], **({"color": "blue"} if item.kind != "folder" else {})})
            self.items[item.full_name] = item
        return item

    def add_build(self, job: str, number: int, result: Optional[str] = "SUCCESS", building: bool = False,
                  artifacts: Optional[Dict[str, bytes]] = None, parameters: Optional[Dict[str, str]] = None,
                  description: Optional[str] = None, keep: bool = False) -> dict:
        item = self.items[job]
        url = f"{item.data['url']}{number}/"
        if item.kind == "workflow":
            data = fixture("workflow-run-building.json" if building else "workflow-run.json", self.url)
            for action in data["actions"]:
                for branch in (action.get("buildsByBranchName") or {}).values():
                    branch["buildNumber"] = number
        else:
            data = fixture("freestyle-build.json", self.url)
            data["actions"] = [a for a in data["actions"]
                               if a.get("_class") != "hudson.plugins.promoted_builds.PromotedBuildAction"]
            data["actions"].insert(3, {"_class": "hudson.plugins.promoted_builds.PromotedBuildAction",
                                       "promotions": []})
            data["actions"][0]["parameters"] = [
                {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                for k, v in (parameters or {}).items()]
            if parameters is None:
                data["actions"].pop(0)
        data.update(number=number, id=str(number), displayName=f"#{number}", url=url,
                    fullDisplayName=f"{self._display(job)} #{number}", description=description, keepLog=keep,
                    building=building, result=None if building else result,
                    timestamp=data["timestamp"] + (number - 12) * 3600000)
        if "inProgress" in data:
            data["inProgress"] = building
        files = dict(artifacts or {})
        data["artifacts"] = [{"displayPath": p.split("/")[-1], "fileName": p.split("/")[-1], "relativePath": p}
                             for p in sorted(files)]
        with self.lock:
            item.builds[number] = data
            item.artifacts[number] = files
            self._relink(item)
        return data

    def add_builds(self, job: str, numbers, **kw) -> None:
        for n in numbers:
            self.add_build(job, n, **kw)

    def _relink(self, item: Item) -> None:
        numbers = sorted(item.builds)
        for i, n in enumerate(numbers):
            b = item.builds[n]
            if "previousBuild" in b:
                b["previousBuild"] = ref_of(item.builds[numbers[i - 1]]) if i else None
                b["nextBuild"] = ref_of(item.builds[numbers[i + 1]]) if i + 1 < len(numbers) else None

    def build(self, job: str, number: int) -> dict:
        return self.items[job].builds[number]

    def promotions(self, job: str, number: int) -> List[dict]:
        for action in self.build(job, number)["actions"]:
            if "promotions" in action:
                return action["promotions"]
        return []

    def requests_to(self, suffix: str, method: Optional[str] = None) -> List[Seen]:
        return [s for s in self.seen if s.path.endswith(suffix) and (method is None or s.method == method)]

    # -- views of the model --------------------------------------------------------------------

    def job_full(self, item: Item) -> dict:
        data = copy.deepcopy(item.data)
        if item.kind == "folder":
            return data
        newest_first = [item.builds[n] for n in sorted(item.builds, reverse=True)]
        data["allBuilds"] = newest_first
        data["builds"] = newest_first[:100]
        done = [b for b in newest_first if not b["building"]]

        def first(pred):
            return next((b for b in done if pred(b)), None)
        data.update(
            firstBuild=newest_first[-1] if newest_first else None,
            lastBuild=newest_first[0] if newest_first else None,
            lastCompletedBuild=done[0] if done else None,
            lastFailedBuild=first(lambda b: b["result"] == "FAILURE"),
            lastStableBuild=first(lambda b: b["result"] == "SUCCESS"),
            lastSuccessfulBuild=first(lambda b: b["result"] in ("SUCCESS", "UNSTABLE")),
            lastUnstableBuild=first(lambda b: b["result"] == "UNSTABLE"),
            lastUnsuccessfulBuild=first(lambda b: b["result"] not in ("SUCCESS",)),
            nextBuildNumber=(max(item.builds) + 1) if item.builds else 1,
            color=("blue_anime" if newest_first and newest_first[0]["building"] else "blue"),
        )
        return data

    @staticmethod
    def job_depth0(full: dict) -> dict:
        out = dict(full)
        out.pop("allBuilds", None)
        if "builds" in out:
            out["builds"] = [ref_of(b) for b in out["builds"]]
        for key, value in out.items():
            if key != "builds" and isinstance(value, dict) and "number" in value and "url" in value:
                out[key] = ref_of(value)
        return out

    @staticmethod
    def build_depth0(full: dict) -> dict:
        out = copy.deepcopy(full)
        for action in out["actions"]:
            for status in action.get("promotions") or []:
                status["promotionBuilds"] = [{"_class": p["_class"], "number": p["number"], "url": p["url"]}
                                             for p in status["promotionBuilds"]]
        return out

    def crumb_for(self, session: str, user: Optional[str]) -> str:
        return hashlib.sha256(f"{self._salt}:{user or ''}:{session}".encode()).hexdigest()

    def take_fault(self) -> bool:
        with self.lock:
            if self._fail_after is None:
                return False
            if self._fail_after <= 0:
                return True
            self._fail_after -= 1
            return False

    def qualify(self, item: Item, number: int, process: str) -> dict:
        """The plugin's PromotionProcess.promote2: the build's PromotedBuildAction gets the
        process's Status at once; the promotion build comes later, when the queue starts it."""
        build = item.builds[number]
        action = next(a for a in build["actions"] if "promotions" in a)
        status = next((s for s in action["promotions"] if s["name"] == process), None)
        if status is None:
            status = {"_class": "hudson.plugins.promoted_builds.Status", "name": process, "promotionBuilds": []}
            action["promotions"].append(status)
        return status

    def schedule(self, item: Item, number: int, process: str, user: str) -> None:
        """Approve and Force: qualify, then queue the promotion; it starts at once unless
        `queue_promotions` holds it (as a busy controller or an offline label does)."""
        self.qualify(item, number, process)
        if self.queue_promotions:
            self.queued.append((item.full_name, number, process, user))
        else:
            self.promote(item, number, process, user)

    def start_queued(self) -> None:
        """The queue runs the promotions it held."""
        with self.lock:
            queued, self.queued = self.queued, []
            for job, number, process, user in queued:
                self.promote(self.items[job], number, process, user)

    def promote(self, item: Item, number: int, process: str, user: str, result: str = "SUCCESS") -> None:
        """Record a finished promotion build for `process` on build `number`."""
        build = item.builds[number]
        status = self.qualify(item, number, process)
        n = item.promotion_numbers.get(process, 0) + 1
        item.promotion_numbers[process] = n
        promotion = {"_class": "hudson.plugins.promoted_builds.Promotion", "number": n, "result": result,
                     "building": False, "url": f"{build['url']}promotion/{process}/promotionBuild/{n}/"}
        status["promotionBuilds"].insert(0, promotion)

    def may_promote(self, user: Optional[str], item: Item, process: str) -> bool:
        """PromotionPermissionHelper.hasPermission: a manual condition that lists approvers lets
        exactly them (and administrators) approve or force, without Promotion/Promote; with no
        list, Promotion/Promote decides."""
        u = self.users.get(user or "")
        if u is None:
            return False
        approvers = item.manual.get(process)
        if not approvers:
            return "promote" in u.permissions
        return u.name in approvers or "administer" in u.permissions


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Jetty(10.0.20)"

    def log_message(self, fmt, *args):   # quiet
        pass

    @property
    def double(self) -> JenkinsDouble:
        return self.server.double

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    # -- responses -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Jenkins", VERSION)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for cookie in self._cookies_out:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status=200):
        self._send(status, json.dumps(data).encode(), "application/json;charset=utf-8")

    def _html(self, status: int, text: str, headers=None):
        page = f"<html><head><title>Jenkins</title></head><body><h2>{text}</h2></body></html>"
        self._send(status, page.encode(), "text/html;charset=utf-8", headers)

    def _redirect(self, location: str):
        self._send(302, b"", "text/plain", {"Location": location})

    # -- the request -----------------------------------------------------------------------------

    def _handle(self, method: str):
        jd = self.double
        self._cookies_out: List[str] = []
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if jd.take_fault():
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True) \
            if "form-urlencoded" in (self.headers.get("Content-Type") or "") else {}
        user, auth = self._authenticate()
        session = self._session(user, auth)
        crumb_value = self.headers.get("Jenkins-Crumb") or (form.get("Jenkins-Crumb") or [None])[0]
        crumb_ok = bool(session) and crumb_value == jd.crumb_for(session, user)
        with jd.lock:
            jd.seen.append(Seen(method, parts.path, parts.query, user, auth, crumb_ok, form))
        if auth == "rejected":
            return self._html(401, f"Invalid password/token for user: {user}",
                              {"WWW-Authenticate": 'Basic realm="Jenkins"'})
        if auth == "anonymous" and not jd.anonymous_read:
            return self._html(403, "anonymous is missing the Overall/Read permission")
        if method == "POST" and jd.csrf and auth != "token" and not crumb_ok:
            return self._html(403, "No valid crumb was included in the request")
        path = parts.path
        if not path.startswith(jd.prefix):
            return self._html(404, "Not Found")
        segments = [s for s in path[len(jd.prefix):].split("/") if s]
        try:
            with jd.lock:
                return self._route(method, segments, query, form, user)
        except ValueError as exc:   # a bad tree=
            return self._html(400, f"bad request: {exc}")

    def _authenticate(self):
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None, "anonymous"
        try:
            name, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return None, "rejected"
        user = self.double.users.get(name)
        if user and user.token and secret == user.token:
            return name, "token"
        if user and user.password and secret == user.password:
            return name, "password"
        return name, "rejected"

    def _session(self, user: Optional[str], auth: str) -> Optional[str]:
        """API token requests are stateless; others get (or keep) a web session."""
        if auth in ("token", "rejected"):
            return None
        jd = self.double
        for chunk in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = chunk.strip().partition("=")
            if name.startswith("JSESSIONID.") and jd.sessions.get(value) == (user or ""):
                return value
        session = secrets.token_hex(12)
        jd.sessions[session] = user or ""
        self._cookies_out.append(f"JSESSIONID.{jd.port:x}={session}; Path=/; HttpOnly")
        return session

    def _allowed(self, user: Optional[str], permission: str) -> bool:
        u = self.double.users.get(user or "")
        return bool(u and permission in u.permissions)

    def _route(self, method, seg, query, form, user):
        jd = self.double
        tree = (query.get("tree") or [None])[0]
        if seg == ["api", "json"] and method == "GET":
            data = fixture("root.json", jd.url)
            data["jobs"] = [{"_class": i.data["_class"], "name": i.data["name"], "url": i.data["url"]}
                            for n, i in jd.items.items() if "/" not in n]
            return self._json(apply_tree(data, parse_tree(tree)) if tree else data)
        if seg == ["crumbIssuer", "api", "json"] and method == "GET":
            if not jd.csrf:
                return self._html(404, "Not Found")
            data = fixture("crumbIssuer.json")
            session = self._current_session()
            data["crumb"] = jd.crumb_for(session, user)
            return self._json(data)
        if not seg or seg[0] != "job":
            return self._html(404, "Not Found")
        # /job/a/job/b/...
        item, i, name = None, 0, ""
        while i + 1 < len(seg) and seg[i] == "job":
            name = f"{name}/{unquote(seg[i + 1])}" if name else unquote(seg[i + 1])
            item = jd.items.get(name)
            if item is None:
                return self._html(404, "Not Found")
            i += 2
        rest = seg[i:]
        if rest in ([], ["api", "json"]) or item.kind == "folder":
            if rest == []:
                return self._html(200, item.full_name)
            if rest != ["api", "json"] or method != "GET":
                return self._html(404, "Not Found")
            full = jd.job_full(item)
            return self._json(apply_tree(full, parse_tree(tree)) if tree else jd.job_depth0(full))
        if rest[0] == "promotion":
            if rest == ["promotion", "api", "json"] and item.processes and method == "GET":
                data = fixture("promotion-processes.json")
                data["processes"] = [{"_class": "hudson.plugins.promoted_builds.PromotionProcess", "name": p}
                                     for p in item.processes]
                return self._json(apply_tree(data, parse_tree(tree)) if tree else data)
            return self._html(404, "Not Found")
        number = self._build_number(item, rest[0])
        if number is None:
            return self._html(404, "Not Found")
        build, action = item.builds[number], rest[1:]
        if action == []:
            return self._html(200, build["fullDisplayName"])
        if action == ["api", "json"] and method == "GET":
            return self._json(apply_tree(build, parse_tree(tree)) if tree else jd.build_depth0(build))
        if action[0] == "artifact" and method == "GET":
            data = item.artifacts[number].get("/".join(unquote(a) for a in action[1:]))
            if data is None:
                return self._html(404, "Not Found")
            return self._send(200, data, "application/octet-stream")
        if action == ["submitDescription"]:
            if method != "POST":
                return self._html(405, "This URL requires POST")
            if not self._allowed(user, "update"):
                return self._html(403, f"{user} is missing the Run/Update permission")
            build["description"] = (form.get("description") or [""])[0]
            return self._redirect(build["url"])
        if action == ["toggleLogKeep"]:
            if method != "POST":
                return self._html(405, "This URL requires POST")
            needed = "delete" if build["keepLog"] else "update"
            if not self._allowed(user, needed):
                return self._html(403, f"{user} is missing the Run/{needed.title()} permission")
            build["keepLog"] = not build["keepLog"]
            return self._redirect(build["url"])
        if action == ["promotion"] and method == "GET":
            return self._html(200, "Promotions")
        if action == ["promotion", "forcePromotion"]:
            if method != "POST":
                return self._html(405, "This URL requires POST")
            process = (query.get("name") or [""])[0]
            if process not in item.processes:
                return self._html(500, f"java.lang.IllegalStateException: This project doesn't have the "
                                       f"promotion criterion called {process}")
            if not jd.may_promote(user, item, process):
                return self._html(403, f"{user} is missing the Promotion/Promote permission")
            jd.schedule(item, number, process, user)
            return self._redirect(build["url"] + "promotion/")
        if (len(action) == 6 and action[:2] == ["promotion", "promotionProcess"] and action[3] == "promotionCondition"
                and action[5] == "approve"):
            process, condition = unquote(action[2]), action[4]
            if process not in item.processes or condition != MANUAL_CONDITION or process not in item.manual:
                return self._html(404, "Not Found")
            if method != "POST":
                return self._html(405, "This URL requires POST")
            if "json" not in form:
                return self._html(400, f"This page expects a form submission but had only {sorted(form)}")
            done = item.approvals.setdefault(number, set())
            if jd.may_promote(user, item, process) and process not in done:   # the plugin ignores the rest without a word
                json.loads(form["json"][0])
                done.add(process)
                jd.schedule(item, number, process, user)
            return self._redirect(build["url"] + "promotion/")
        return self._html(404, "Not Found")

    def _current_session(self) -> Optional[str]:
        for cookie in self._cookies_out:
            return cookie.split("=", 1)[1].split(";", 1)[0]
        for chunk in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = chunk.strip().partition("=")
            if name.startswith("JSESSIONID.") and value in self.double.sessions:
                return value
        return None

    @staticmethod
    def _build_number(item: Item, text: str) -> Optional[int]:
        if text.isdigit():
            return int(text) if int(text) in item.builds else None
        pred = PERMALINKS.get(text)
        if pred is None:
            return None
        for n in sorted(item.builds, reverse=True):
            if pred(item.builds[n]):
                return n
        return None
