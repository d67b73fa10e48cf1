"""Policy files: YAML -> core.policy.Policy."""

import os
from typing import Optional

from .core.policy import Policy
from .errors import InputError

DEFAULT_FILE = "shipmark.yaml"


def load(path: Optional[str]) -> Policy:
    """An explicit path must exist. Without one, shipmark.yaml in the working directory is used if
    present; otherwise every channel is open to images that are not rejected."""
    if not path:
        if not os.path.exists(DEFAULT_FILE):
            return Policy.open()
        path = DEFAULT_FILE
    import yaml   # lazily: start-up stays light for commands without a policy

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise InputError(f"policy file {path} does not exist",
                         "pass --policy FILE or set SHIPMARK_POLICY to an existing file") from None
    except OSError as exc:
        raise InputError(f"cannot read policy file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"policy file {path} is not valid YAML{where}",
                         "check indentation and quoting") from None
    return Policy.from_dict(data, source=path)
