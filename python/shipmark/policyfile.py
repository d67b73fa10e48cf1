"""Policy files: YAML -> core.policy.Policy, with signer keys loaded relative to the file."""

import os
from typing import Optional

from .core.descriptor import sha256
from .core.policy import Policy
from .errors import InputError

DEFAULT_FILE = "shipmark.yaml"
NO_POLICY_HINT = ("pass --policy FILE, put shipmark.yaml in the working directory, publish one with "
                  "`shipmark policy publish REPO FILE`, or pass --no-policy to admit every image that "
                  "is not rejected")


def default_path() -> Optional[str]:
    """./shipmark.yaml when it exists."""
    return DEFAULT_FILE if os.path.exists(DEFAULT_FILE) else None


def load(path: str) -> Policy:
    """An explicit path must exist and be valid."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(f"policy file {path} does not exist",
                         "pass --policy FILE or set SHIPMARK_POLICY to an existing file") from None
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror}") from None
    return parse(data, path, os.path.dirname(os.path.abspath(path)))


def parse(data: bytes, source: str, base_dir: Optional[str]) -> Policy:
    """`base_dir` is where signer key files are looked up; None (a published policy) allows
    inline PEM keys only."""
    import yaml  # lazily: start-up stays light for commands without a policy

    # The safe loader on libyaml's parser when PyYAML has it (PyYAML's own fast path, several
    # times faster than the pure-Python parser); constructing values is the same Python code.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"policy {source} is not valid YAML{where}", "check indentation and quoting") from None

    def load_key(value: str):
        from . import keys
        if base_dir is None and not value.lstrip().startswith("-----BEGIN"):
            raise InputError(f"{value!r}: a published policy holds its keys inline (PEM)")
        return keys.public_key(value, base_dir or ".")[0]

    return Policy.from_dict(doc, source=source, load_key=load_key, digest=sha256(data))


def inline_keys(data: bytes, base_dir: str) -> bytes:
    """The policy with every signer key file replaced by its PEM text, so that a published copy
    stands on its own. Unchanged when there is nothing to inline."""
    import yaml
    doc = yaml.safe_load(data)
    signers = doc.get("signers") if isinstance(doc, dict) else None
    if not isinstance(signers, dict) or all(isinstance(v, str) and v.lstrip().startswith("-----BEGIN")
                                            for v in signers.values()):
        return data
    from . import keys
    for name, value in signers.items():
        if isinstance(value, str):
            signers[name] = keys.public_key(value, base_dir)[0].pem().decode("ascii")
    return yaml.safe_dump(doc, sort_keys=False).encode("utf-8")
