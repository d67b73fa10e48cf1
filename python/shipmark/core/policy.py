"""Policy: which images may enter which channel, with a reason for every refusal.

signers: {ci: keys/ci.pub, qa: keys/qa.pub}      # name -> public key (file or inline PEM)
trust:   {provenance: [ci], test: {unit: [ci], acceptance: [qa]}, promotion: [ci]}
channels:
  testing: {require: [unit]}
  stable:  {require: [acceptance], block_on: [security], after: testing, min_age: 2h, branches: [master]}
  nightly: {require: [unit], auto: true}

The policy decides who may *enter* a channel. What a channel *holds* is its members: images
promoted into it and not rejected since (`ImageState.in_channel`), unless the channel says
`auto: true`, in which case it holds the newest image the policy admits, promoted or not.

With `signers`, a record counts only when a key that `trust` names for its kind (and suite)
signed it; a rejection counts whoever wrote it unless `trust.rejection` names signers.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Tuple, Union

from ..errors import InputError
from .dsse import Verifier
from .record import KINDS, REJECTION, TEST, check_name
from .state import ImageState

_DURATION_RE = re.compile(r"^(\d+)([smhdw])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CHANNEL_KEYS = {"require", "block_on", "after", "min_age", "branches", "auto"}
_TOP_KEYS = ("channels", "signers", "trust")
# A signer's value (file name or inline PEM) -> its key; raises InputError saying what is wrong.
KeyLoader = Callable[[str], Verifier]


def parse_duration(text: str) -> timedelta:
    m = _DURATION_RE.match(str(text).strip())
    if not m:
        raise ValueError(text)
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


@dataclass(frozen=True)
class ChannelPolicy:
    name: str
    require: Tuple[str, ...] = ()
    block_on: Tuple[str, ...] = ()
    after: Optional[str] = None
    min_age: Optional[timedelta] = None
    branches: Optional[Tuple[str, ...]] = None
    auto: bool = False   # holds the newest admitted image instead of its promoted members


@dataclass(frozen=True)
class Decision:
    ok: bool
    reasons: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ok": self.ok, "reasons": self.reasons}


@dataclass(frozen=True)
class Policy:
    channels: Dict[str, ChannelPolicy]
    source: str = "policy"
    # --no-policy: every channel is open to any image that is not rejected, said explicitly.
    open_by_default: bool = False
    signers: Mapping[str, Verifier] = field(default_factory=dict)
    # kind -> signer names, or for tests suite -> signer names
    trust: Mapping[str, Union[Tuple[str, ...], Mapping[str, Tuple[str, ...]]]] = field(default_factory=dict)
    digest: Optional[str] = None   # sha256 of the policy document, written into promotions

    @classmethod
    def open(cls) -> "Policy":
        return cls({}, "--no-policy", open_by_default=True, digest="none")

    def trusted_for(self, kind: str, suite: Optional[str] = None) -> Optional[Tuple[str, ...]]:
        """Signer names whose signature makes a record of this kind count; None: any record
        counts (no `signers`, or a rejection that `trust` does not restrict)."""
        if not self.signers:
            return None
        rule = self.trust.get(kind)
        if rule is None:
            return None if kind == REJECTION else ()
        if isinstance(rule, Mapping):
            return rule.get(suite or "", ())
        return rule

    def channel(self, name: str) -> ChannelPolicy:
        if name in self.channels:
            return self.channels[name]
        if self.open_by_default:
            return ChannelPolicy(check_name("channel", name))
        raise InputError(f"channel {name!r} is not in {self.source}",
                         f"use one of: {', '.join(sorted(self.channels)) or '(none defined)'}, "
                         "or add it to the policy file")

    @classmethod
    def from_dict(cls, data: Any, source: str = "policy", load_key: Optional[KeyLoader] = None,
                  digest: Optional[str] = None) -> "Policy":
        """Validate parsed YAML; every message names the path of the bad value. `load_key`
        turns a signer's value into a key (the caller knows where files are)."""
        def fail(path: str, what: str) -> NoReturn:
            raise InputError(f"{source}: {path}: {what}", "fix the policy file; see README 'Policy'")

        if not isinstance(data, Mapping):
            fail("(top)", f"expected a mapping with 'channels', got {type(data).__name__}")
        unknown = set(data) - set(_TOP_KEYS)
        if unknown:
            fail(sorted(map(str, unknown))[0], f"unknown key (expected: {', '.join(_TOP_KEYS)})")
        signers = _signers(data.get("signers"), load_key, fail)
        trust = _trust(data.get("trust"), signers, fail)
        raw = data.get("channels")
        if not isinstance(raw, Mapping) or not raw:
            fail("channels", "expected a mapping of channel names to rules")
        channels: Dict[str, ChannelPolicy] = {}
        for name, rules in raw.items():
            path = f"channels.{name}"
            if not isinstance(name, str):
                fail(path, "channel names are strings")
            try:
                check_name("channel", name)
            except InputError as exc:
                fail(path, exc.message)
            rules = rules or {}
            if not isinstance(rules, Mapping):
                fail(path, f"expected a mapping of rules, got {type(rules).__name__}")
            for key in rules:
                if key not in _CHANNEL_KEYS:
                    fail(f"{path}.{key}", f"unknown key (expected one of: {', '.join(sorted(_CHANNEL_KEYS))})")

            def names(key: str, rules: Mapping = rules, path: str = path) -> Tuple[str, ...]:
                value = rules.get(key, [])
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    fail(f"{path}.{key}", f"expected a list of names, got {value!r}")
                return tuple(value)

            after = rules.get("after")
            if after is not None and not isinstance(after, str):
                fail(f"{path}.after", f"expected a channel name, got {after!r}")
            min_age = None
            if rules.get("min_age") is not None:
                try:
                    min_age = parse_duration(rules["min_age"])
                except ValueError:
                    fail(f"{path}.min_age", f"expected a duration like 2h, got {rules['min_age']!r}")
            auto = rules.get("auto", False)
            if not isinstance(auto, bool):
                fail(f"{path}.auto", f"expected true or false, got {auto!r}")
            channels[name] = ChannelPolicy(
                name=name, require=names("require"), block_on=names("block_on"), after=after,
                min_age=min_age, branches=names("branches") if "branches" in rules else None, auto=auto)
        for ch in channels.values():
            if ch.after is not None and ch.after not in channels:
                fail(f"channels.{ch.name}.after", f"names channel {ch.after!r}, which is not defined")
        return cls(channels, source, signers=signers, trust=trust, digest=digest)


def _signers(raw: Any, load_key: Optional[KeyLoader], fail) -> Dict[str, Verifier]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        fail("signers", "expected a mapping of signer names to public keys (file or inline PEM)")
    out: Dict[str, Verifier] = {}
    for name, value in raw.items():
        path = f"signers.{name}"
        try:
            check_name("signer", name)
        except InputError as exc:
            fail(path, exc.message)
        if not isinstance(value, str) or not value.strip():
            fail(path, "expected a public key file name or an inline PEM key")
        if load_key is None:
            fail(path, "keys cannot be loaded here")
        try:
            out[name] = load_key(value)  # type: ignore[misc]  # fail() above never returns
        except InputError as exc:
            fail(path, exc.message)
    return out


def _trust(raw: Any, signers: Mapping[str, Verifier], fail) -> dict:
    if raw is None:
        return {}
    if not signers:
        fail("trust", "needs `signers` to name keys")
    if not isinstance(raw, Mapping):
        fail("trust", "expected a mapping of record kinds to signer names")

    def names(path: str, value: Any) -> Tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(path, f"expected a list of signer names, got {value!r}")
        for name in value:
            if name not in signers:
                fail(path, f"unknown signer {name!r} (signers: {', '.join(sorted(signers))})")
        return tuple(value)

    out: dict = {}
    for kind, value in raw.items():
        path = f"trust.{kind}"
        if kind not in KINDS:
            fail(path, f"unknown record kind (expected one of: {', '.join(KINDS)})")
        if kind == TEST and isinstance(value, Mapping):
            out[kind] = {check_name("suite", str(suite)): names(f"{path}.{suite}", v) for suite, v in value.items()}
        else:
            out[kind] = names(path, value)
    return out


def evaluate(policy: Policy, channel: str, state: ImageState, now: datetime,
             built_at: Optional[datetime] = None) -> Decision:
    """May this image enter `channel`? Every unmet rule gives one reason."""
    rules = policy.channel(channel)
    reasons: List[str] = []
    if state.rejected:
        reasons.append(rejection_reason(state))
    for suite in rules.require:
        result = state.result(suite)
        if result is None:
            reasons.append(f"required suite {suite!r} has no result")
        elif result != "passed":
            reasons.append(f"required suite {suite!r} {result}")
    for suite in rules.block_on:
        if state.result(suite) == "failed" and suite not in rules.require:
            reasons.append(f"blocking suite {suite!r} failed")
    if rules.after and not state.entered(rules.after):
        reasons.append(after_reason(state, rules.after))
    if rules.min_age is not None:
        if built_at is None:
            reasons.append(f"age unknown (no provenance record), min_age is {_format_age(rules.min_age)}")
        elif now - built_at < rules.min_age:
            reasons.append(f"only {_format_age(now - built_at)} old, min_age is {_format_age(rules.min_age)}")
    if rules.branches is not None:
        branch = state.provenance.branch if state.provenance else None
        if branch is None:
            reasons.append(f"branch unknown (no provenance record), allowed: {', '.join(rules.branches)}")
        elif _short_branch(branch) not in {_short_branch(b) for b in rules.branches}:
            reasons.append(f"built from branch {branch!r}, allowed: {', '.join(rules.branches)}")
    return Decision(not reasons, reasons)


def after_reason(state: ImageState, after: str) -> str:
    if not state.promoted_into(after):
        return f"not promoted to {after!r} first"
    return (f"its promotion to {after!r} is not confirmed: the {after!r} tag is not on it, and no later "
            f"promotion to {after!r} moved the tag away from it (the tag move failed, or the record was "
            f"copied from another repository); promote it to {after!r} again")


def rejection_reason(state: ImageState) -> str:
    """The refusal a standing rejection gives (callers that can read the record add its reason)."""
    verdict = state.verdict
    if verdict is None:
        return "rejected"
    why = f" by {verdict.by}" if verdict.by else ""
    return f"rejected{why} at {verdict.created}"


def membership(policy: Policy, channel: str, state: ImageState, now: datetime,
               built_at: Optional[datetime] = None) -> Decision:
    """Is this image what `channel` holds? For an `auto` channel: does the policy admit it; for
    any other: is it a member (promoted into the channel, not rejected since)."""
    rules = policy.channel(channel)
    if rules.auto:
        return evaluate(policy, channel, state, now, built_at)
    if state.rejected:
        return Decision(False, [rejection_reason(state)])
    if not state.in_channel(channel):
        # Why nobody could promote it says more than that nobody did.
        refused = evaluate(policy, channel, state, now, built_at).reasons
        return Decision(False, [f"never promoted to {channel!r}"]
                        + (refused or [f"the policy admits it: shipmark promote IMAGE --to {channel}"]))
    return Decision(True, [])


def _short_branch(branch: str) -> str:
    """Jenkins says origin/master or refs/heads/master where people write master."""
    for prefix in ("refs/heads/", "origin/", "refs/remotes/origin/"):
        if branch.startswith(prefix):
            return branch[len(prefix):]
    return branch


def _format_age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"
