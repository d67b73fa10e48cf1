"""Where registry credentials come from: the settings, else Docker's config, else none.

`Settings.creds_for(host)` is the callable the registry client's auth receives; it calls
`creds_for` here with the values settings.py read. Order:
1. `SHIPMARK_REGISTRY_USERNAME` + `SHIPMARK_REGISTRY_PASSWORD` (both, or neither);
2. `DOCKER_CONFIG/config.json` (default `~/.docker/config.json`): `auths`, `credHelpers` and
   `credsStore`, resolved by the docker SDK (`docker.auth`, imported only when needed);
3. None: the registry is tried anonymously, and a refusal says which variables to set.
The source of a credential is logged at INFO, never its value. There is no password flag.
"""

import logging
import os
import warnings
from typing import Optional, Tuple

from ..errors import AuthError
from ..settings import PASSWORD_VAR, USERNAME_VAR

log = logging.getLogger("shipmark.credentials")

# The Docker Hub API host and the name its credentials are stored under differ.
_HUB_ALIASES = {"registry-1.docker.io": "docker.io", "index.docker.io": "docker.io"}


def creds_for(host: str, *, username: Optional[str] = None, password: Optional[str] = None,
              docker_config: Optional[str] = None) -> Optional[Tuple[str, str]]:
    """`username` and `password` as the variables gave them; `docker_config` the directory of
    Docker's config.json (None: Docker's config is not read)."""
    user = username or ""
    password = password or ""
    if user and password:
        log.info("credentials for %s from %s/%s", host, USERNAME_VAR, PASSWORD_VAR)
        return user, password
    if user or password:
        missing = PASSWORD_VAR if user else USERNAME_VAR
        present = USERNAME_VAR if user else PASSWORD_VAR
        raise AuthError(f"{present} is set but {missing} is not",
                        f"set both {USERNAME_VAR} and {PASSWORD_VAR}, or neither to use "
                        "~/.docker/config.json")
    return docker_config_creds(host, docker_config)


def docker_config_creds(host: str, docker_config: Optional[str]) -> Optional[Tuple[str, str]]:
    """Credentials for host from Docker's config.json and its credential helpers."""
    path = os.path.join(docker_config, "config.json") if docker_config else None
    if path is None or not os.path.isfile(path):
        return None
    try:
        from docker import auth as docker_auth  # heavy: only when a registry asks for creds
        from docker import errors as docker_errors
    except ImportError:  # pragma: no cover - docker is a declared dependency
        log.warning("the docker package is missing; %s is not read", path)
        return None
    name = _HUB_ALIASES.get(host, host)
    try:
        with warnings.catch_warnings():  # the SDK warns on stderr about a missing helper
            warnings.simplefilter("ignore")
            config = docker_auth.load_config(config_path=path)
            found = docker_auth.resolve_authconfig(config, registry=name)
    except docker_errors.DockerException as exc:
        # A helper that fails (not installed, locked keychain): say which, never echo output.
        raise AuthError(f"the Docker credential helper for {host} failed "
                        f"({type(exc).__name__})",
                        f"check the credHelpers/credsStore entry in {path}, or set "
                        f"{USERNAME_VAR} and {PASSWORD_VAR}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise AuthError(f"malformed Docker config {path}",
                        f"fix or remove it, or set {USERNAME_VAR} and {PASSWORD_VAR}") from None
    if not found:
        return None
    user = found.get("Username") or found.get("username")
    password = found.get("Password") or found.get("password")
    if not user or not password:
        return None
    log.info("credentials for %s from %s", host, _describe_source(config, name, path))
    return user, password


def _describe_source(config, name: str, path: str) -> str:
    try:
        helpers = config.get("credHelpers") or {}
        if name in helpers:
            return f"credential helper docker-credential-{helpers[name]} ({path})"
        store = config.get("credsStore")
        if store:
            return f"credential store docker-credential-{store} ({path})"
    except AttributeError:
        pass
    return path
