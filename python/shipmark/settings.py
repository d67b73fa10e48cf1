"""Every setting shipmark reads, declared once: its flag, its environment variable, its default
and its help (the shape of twine's settings.py).

Commands add the flags they take with `add_flag(parser, NAME)`, so each help text names the
variable and the default. The CLI context builds one `Settings` from the parsed flags and the
environment and passes it down: stores get the object (`stores.open_store(ref, settings)` reads
`limits`, `insecure_registries`, `ca_file`, `certs_dir`, `ca_bundle`, `cache_dir`, `creds_for`),
Jenkins its URL and credentials (`jenkins.Client.from_settings`), use cases plain values.
Precedence: flag, then variable, then default; an empty variable counts as unset unless the
option says that empty means "none". `Settings.check()` parses every value given, so a bad one
stops any command with exit 2, naming the flag or variable it came from.

This is the only module that reads the process environment. Left to libraries on purpose:
HTTPS_PROXY, HTTP_PROXY and NO_PROXY (requests' own rules, which stores/registry/transport.py
asks once per host) and the login name behind the default actor (`getpass`).

Kept light: `shipmark --help` imports this module, so it imports nothing beyond `os`.
"""

import math
import os
import time

from .errors import InputError

# Variable names that messages elsewhere quote (hints name what to set).
INSECURE_VAR = "SHIPMARK_INSECURE_REGISTRIES"
CA_FILE_VAR = "SHIPMARK_CA_FILE"
CERTS_DIR_VAR = "SHIPMARK_CERTS_DIR"
USERNAME_VAR = "SHIPMARK_REGISTRY_USERNAME"
PASSWORD_VAR = "SHIPMARK_REGISTRY_PASSWORD"
JENKINS_URL_VAR = "JENKINS_URL"
JENKINS_USER_VAR = "JENKINS_USER"
JENKINS_TOKEN_VAR = "JENKINS_API_TOKEN"
JENKINS_TIMEOUT_VAR = "SHIPMARK_JENKINS_TIMEOUT"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# -- how text becomes a value --------------------------------------------------------------------

def _text(option, value, where):
    return value


def _seconds(option, value, where):
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise option.bad(value, where, "a number of seconds")
    return seconds


def _count(option, value, where):
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise option.bad(value, where, "a whole number above 0")
    return int(text)


def _boolean(option, value, where):
    if value is True or value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise option.bad(value, where, f"{', '.join(_TRUE)} or {', '.join(_FALSE)}")


def _choice(option, value, where):
    if value not in option.choices:
        raise option.bad(value, where, " or ".join(option.choices))
    return value


def _hosts(option, value, where):
    return tuple(h.strip() for h in value.split(",") if h.strip())


def _channels(option, value, where):
    return frozenset(c.strip() for c in value.split(",") if c.strip())


def _paths(option, value, where):
    return tuple(p for p in value.split(os.pathsep) if p)


# -- defaults that depend on where home is --------------------------------------------------------

def _home(env):
    return env.get("HOME") or os.path.expanduser("~")


def _default_cache_dir(env):
    return os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(_home(env), ".cache"), "shipmark")


def _default_certs_dirs(env):
    """containers-certs.d(5) order: the user's, then Podman's, then Docker's."""
    config = env.get("XDG_CONFIG_HOME") or os.path.join(_home(env), ".config")
    return (os.path.join(config, "containers", "certs.d"), "/etc/containers/certs.d", "/etc/docker/certs.d")


def _default_docker_config(env):
    return os.path.join(_home(env), ".docker")


class Option:
    """One setting. `env` names its variables (the first one set wins); `default` may be a
    function of the environment; `default_text` is the default as help shows it."""

    __slots__ = ("name", "env", "help", "default", "default_text", "flag", "parse", "choices",
                 "metavar", "empty_is_value", "example")

    def __init__(self, name, env, help, default=None, *, flag=None, parse=_text, choices=(), metavar=None,
                 default_text=None, empty_is_value=False, example=None):
        self.name, self.help, self.default, self.flag = name, help, default, flag
        self.env = (env,) if isinstance(env, str) else tuple(env)
        self.parse, self.choices, self.metavar = parse, tuple(choices), metavar
        self.default_text = default_text if default_text is not None else (
            None if default is None or callable(default) else str(default))
        self.empty_is_value = empty_is_value
        self.example = example

    def describe(self, help=None) -> str:
        """`what (env VAR; default D)`: the help of its flag."""
        where = "env " + ", else ".join(self.env)
        default = f"; default {self.default_text}" if self.default_text else ""
        return f"{help or self.help} ({where}{default})".replace("%", "%%")

    def bad(self, value, where, expected) -> InputError:
        example = self.example or (self.default_text if self.default_text and " " not in self.default_text else "")
        fix = (f"pass {where} {example}" if where.startswith("--") else f"set {where}={example}") if example \
            else f"fix or unset {where}"
        return InputError(f"{where}: expected {expected}, got {str(value)!r}", f"{fix} (see `shipmark --help`)")


OPTIONS: "dict[str, Option]" = {}


def _declare(name, env, help, default=None, **kw):
    OPTIONS[name] = Option(name, env, help, default, **kw)


# Registry: how to reach it and who to be there (see README "Connecting to your registry").
_declare("insecure_registries", INSECURE_VAR,
         "comma-separated registries for Docker's insecure rule: HTTPS without certificate checks, else plain "
         "HTTP (loopback registries fall back to plain HTTP unlisted)", (), parse=_hosts, default_text="none")
_declare("ca_file", CA_FILE_VAR, "CA bundle added to the default CAs for every registry")
_declare("certs_dir", CERTS_DIR_VAR, "certs.d roots searched for HOST:PORT/*.crt, *.cert and *.key, "
         f"separated by {os.pathsep!r} (empty: none)", _default_certs_dirs, parse=_paths, empty_is_value=True,
         default_text="~/.config/containers/certs.d, /etc/containers/certs.d, /etc/docker/certs.d")
_declare("ca_bundle", ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
         "the CA bundle that replaces certifi's as the default CAs", default_text="certifi's bundle")
_declare("registry_username", USERNAME_VAR, f"registry user, with {PASSWORD_VAR} (there is no password flag)",
         default_text="Docker's config.json and its credential helpers")
_declare("registry_password", PASSWORD_VAR, "registry password or token")
_declare("docker_config", "DOCKER_CONFIG", "directory of Docker's config.json (credentials, helpers)",
         _default_docker_config, default_text="~/.docker")
_declare("cache_dir", "SHIPMARK_CACHE_DIR", "cache of manifests, record payloads and what each repository's "
         "version tags name (content-addressed; delete it to forget)", _default_cache_dir,
         default_text="$XDG_CACHE_HOME/shipmark, else ~/.cache/shipmark")

# Limits: how long and how much shipmark reads before it stops with a clear error.
_declare("timeout", "SHIPMARK_TIMEOUT", "deadline in seconds for the whole command; a registry that stays "
         "silent longer is exit 5", 120.0, flag="--timeout", parse=_seconds, metavar="SECONDS",
         default_text="120", example="300")
_declare("max_tags", "SHIPMARK_MAX_TAGS", "most tags read from one repository's tag list", 100_000,
         flag="--max-tags", parse=_count, metavar="N", example="200000")
_declare("max_tag_pages", "SHIPMARK_MAX_TAG_PAGES", "most pages read of one repository's tag list", 1_000,
         parse=_count, example="5000")

# Jenkins REST (without JENKINS_URL nothing is sent) and the build shipmark runs in.
_declare("jenkins_url", JENKINS_URL_VAR, "the Jenkins root for REST calls; unset: Jenkins is left alone")
_declare("jenkins_user", JENKINS_USER_VAR, "the Jenkins user of the API token")
_declare("jenkins_api_token", JENKINS_TOKEN_VAR, "the Jenkins API token (or password)")
_declare("jenkins_timeout", JENKINS_TIMEOUT_VAR, "seconds per Jenkins REST request", 15.0, parse=_seconds,
         default_text="15", example="30")
_declare("strict_jenkins", "SHIPMARK_STRICT_JENKINS", "exit 5 when the producing build cannot be updated "
         "(otherwise a warning; the registry change stands)", False, flag="--strict-jenkins", parse=_boolean,
         default_text="off", example="1")
_declare("description_format", "SHIPMARK_DESCRIPTION_FORMAT", "build description as plain text (Jenkins' "
         "default formatter) or HTML", "text", flag="--description-format", parse=_choice, choices=("text", "html"))
_declare("keep_build_for", "SHIPMARK_KEEP_BUILD_FOR", "comma-separated channels whose promotions keep the "
         "producing build (and with --from-promotion the carrier build) forever; empty: none",
         frozenset({"stable"}), flag="--keep-build-for", parse=_channels, metavar="CHANNELS",
         default_text="stable", empty_is_value=True)
_declare("build_url", "BUILD_URL", "the Jenkins build that made the image", flag="--build-url", metavar="URL")
_declare("job", "JOB_NAME", "the Jenkins job", flag="--job", metavar="JOB")
_declare("build_number", "BUILD_NUMBER", "the build number", flag="--build-number", metavar="N")
_declare("builder", JENKINS_URL_VAR, "builder id in provenance records", flag="--builder", metavar="ID")
_declare("git_commit", "GIT_COMMIT", "the git commit the image was built from", flag="--git-commit", metavar="SHA")
_declare("git_branch", "GIT_BRANCH", "the git branch", flag="--git-branch", metavar="BRANCH")
_declare("git_url", "GIT_URL", "the git repository URL", flag="--git-url", metavar="URL")
_declare("promoted_job", "PROMOTED_JOB_FULL_NAME", "inside a Promoted Builds process: the promoted build's job")
_declare("promoted_number", "PROMOTED_NUMBER", "inside a Promoted Builds process: the promoted build's number")
_declare("promoted_image", "IMAGE", "inside a Promoted Builds process: the image to promote",
         default_text="the promoted build's IMAGE parameter, else its archived shipmark/provenance.json")

# Policy, keys and who acts.
_declare("policy", "SHIPMARK_POLICY", "policy file", flag="--policy", metavar="FILE",
         default_text="./shipmark.yaml, else the policy published in the repository; none is an error")
_declare("policy_key", "SHIPMARK_POLICY_KEY", "public key the published policy must be signed with",
         flag="--policy-key", metavar="PUB")
_declare("signing_key", "SHIPMARK_SIGNING_KEY", "sign the records written with this PEM private key",
         flag="--signing-key", metavar="FILE", default_text="none: records are unsigned")
_declare("signing_key_password", "SHIPMARK_SIGNING_KEY_PASSWORD", "password of the signing key (keygen "
         "encrypts with it)", default_text="none: the key is not encrypted")
_declare("by", "SHIPMARK_BY", "who acts, as records name them", flag="--by", metavar="WHO",
         default_text="$BUILD_URL, else the login name")


def add_flag(parser, name: str, *flags: str, help=None, suppress: bool = False, **kwargs) -> None:
    """Add setting `name`'s flag to parser (or a group), spelled `flags` where a command has its
    own name for it. `suppress`: leave the attribute out when not given, so that a command's
    flag does not reset the same flag given before the command."""
    import argparse
    option = OPTIONS[name]
    if option.parse is _boolean:
        kwargs.setdefault("action", "store_true")
    else:
        kwargs.setdefault("metavar", option.metavar)
    if option.choices:
        kwargs.setdefault("choices", option.choices)
    parser.add_argument(*(flags or (option.flag,)), dest=name, help=option.describe(help),
                        default=argparse.SUPPRESS if suppress else None, **kwargs)


def environment_help(width: int = 100) -> str:
    """shipmark's own variables with their help, for the top-level --help (wrapped here: the
    top-level help keeps its epilog as written, and textwrap would cost every start-up)."""
    lines, seen = ["environment (a flag, where there is one, wins):"], set()
    for option in OPTIONS.values():
        for var in option.env:
            if var.startswith(("SHIPMARK_", "JENKINS_")) and var not in seen:
                seen.add(var)
                extra = [x for x in (option.flag, option.default_text and "default " + option.default_text) if x]
                text = option.help + (f" ({'; '.join(extra)})" if extra else "")
                line = f"  {var:<30}"
                for word in text.split():
                    if len(line) + 1 + len(word) > width and line.strip() != var:
                        lines.append(line)
                        line = " " * 33 + word
                    else:
                        line += " " + word
                lines.append(line)
    return "\n".join(lines)


class Settings:
    """The settings of one command: `settings.NAME` for every declared option (flag, then
    variable, then default), plus `limits` and `creds_for` for the stores."""

    def __init__(self, args=None, environ=None):
        self._args = args
        self._env = os.environ if environ is None else environ
        self._values = {}
        self._started = time.monotonic()   # the command's deadline counts from here

    def __getattr__(self, name):
        option = OPTIONS.get(name)
        if option is None or name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            self._values[name] = self._resolve(option)
        return self._values[name]

    def _given(self, option):
        """(value, where) from the flag or the first variable set, or (None, None)."""
        if option.flag and self._args is not None:
            value = getattr(self._args, option.name, None)
            if value not in (None, False) and (value != "" or option.empty_is_value):
                return value, option.flag
        for var in option.env:
            value = self._env.get(var)
            if value is not None and (value != "" or option.empty_is_value):
                return value, var
        return None, None

    def _resolve(self, option):
        value, where = self._given(option)
        if where is None:
            return option.default(self._env) if callable(option.default) else option.default
        return option.parse(option, value, where) if isinstance(value, str) else value

    def check(self) -> "Settings":
        """Parse every setting now: a bad value stops the command before it does anything."""
        for name in OPTIONS:
            getattr(self, name)
        return self

    def from_flag(self, name: str):
        """The value given on the command line only (None when the flag is absent)."""
        option = OPTIONS[name]
        value, where = self._given(option)
        return getattr(self, name) if option.flag and where == option.flag else None

    @property
    def limits(self):
        """What a store may read, and for how long (stores/base.py Limits). The deadline is what
        is left of the command's: a store opened late (a second registry) gets no fresh one."""
        from .stores.base import Limits
        left = max(0.0, self.timeout - (time.monotonic() - self._started))
        return Limits(deadline=left, timeout=self.timeout, tags=self.max_tags, tag_pages=self.max_tag_pages)

    def creds_for(self, host: str):
        """Registry credentials for host: the variables, else Docker's config (see stores/credentials.py)."""
        from .stores.credentials import creds_for
        return creds_for(host, username=self.registry_username, password=self.registry_password,
                         docker_config=self.docker_config)
