"""services.yaml files: YAML -> core.services.ServicesFile.

Duplicate keys in any mapping are errors with their line (PyYAML keeps the last one silently),
and policy paths are taken relative to the services file, so a job may run from any directory.
"""

import os
from dataclasses import replace
from typing import Optional

from .core.services import ServicesFile
from .errors import InputError

DEFAULT_FILE = "services.yaml"


def _loader():
    import yaml  # lazily: commands without a services file stay light

    # On libyaml's parser when PyYAML has it (500 services: 180 ms with the pure-Python one);
    # mappings are constructed by the same Python code either way, so the check below holds.
    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise InputError(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value",
                                 "check the services file's indentation") from None
            if key in seen:
                raise _Duplicate(key, key_node.start_mark.line + 1, seen[key])
            seen[key] = key_node.start_mark.line + 1
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return yaml, StrictLoader


class _Duplicate(Exception):
    def __init__(self, key, line, first_line):
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


def parse(text: str, source: str = DEFAULT_FILE) -> ServicesFile:
    yaml, loader = _loader()
    try:
        data = yaml.load(text, Loader=loader)   # noqa: S506 - a SafeLoader subclass
    except _Duplicate as dup:
        raise InputError(f"{source}: line {dup.line}: duplicate key {dup.key!r} (first at line {dup.first_line})",
                         "remove one of them; YAML would silently keep only the last") from None
    except InputError as exc:
        raise InputError(f"{source}: {exc.message}", exc.hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"{source} is not valid YAML{where}", "check indentation and quoting") from None
    return ServicesFile.from_dict(data, source=source)


def load(path: Optional[str]) -> ServicesFile:
    path = path or DEFAULT_FILE
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise InputError(f"services file {path} does not exist",
                         "pass --services FILE (see README 'services.yaml')") from None
    except OSError as exc:
        raise InputError(f"cannot read services file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"services file {path} is not UTF-8 text") from None
    parsed = parse(text, source=path)
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p: Optional[str]) -> Optional[str]:
        return p if p is None or os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

    services = tuple(replace(s, policy=resolve(s.policy)) for s in parsed.services)
    return replace(parsed, services=services, policy=resolve(parsed.policy))
