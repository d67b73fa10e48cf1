"""Jinja2 templates: deploy files and the release board.

Packaged templates live in `shipmark/templates/` (`deploy/*.j2` for deploy files, `board.html.j2`).
A user's template is a file path; it may include packaged templates. Undefined variables are errors
(StrictUndefined), HTML templates are autoescaped, plain text is not: deploy templates quote each
value for their format themselves (`tojson` in YAML, `shell_quote` in env files). Every template
error becomes an InputError naming the template file and line. Files are written all or nothing:
every file to a temp file beside its target first, then the renames.
"""

import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from .errors import InputError

PACKAGE_DEPLOY_DIR = "deploy"
_HTML_SUFFIXES = (".html", ".htm", ".html.j2", ".htm.j2")


def _autoescape(name: Optional[str]) -> bool:
    return bool(name) and str(name).endswith(_HTML_SUFFIXES)


def env_name(value: str) -> str:
    """`api-gateway` -> `API_GATEWAY`: a service name as an environment variable name."""
    out = "".join(c.upper() if c.isalnum() else "_" for c in str(value))
    return out if not out[:1].isdigit() else "_" + out


def shell_quote(value: object) -> str:
    """A value as one shell word that a shell reads back unchanged and never expands
    (`$(...)`, backquotes, `;`): single-quoted where it needs quoting."""
    return shlex.quote(str(value))


def _environment(search_dir: Optional[str] = None):
    import jinja2  # lazily: most commands never render

    loaders: List[jinja2.BaseLoader] = [jinja2.FileSystemLoader(search_dir)] if search_dir else []
    loaders.append(jinja2.PackageLoader("shipmark", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=_autoescape, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["env_name"] = env_name
    env.filters["shell_quote"] = shell_quote
    return env


def packaged_deploy_templates() -> List[str]:
    env = _environment()
    prefix = PACKAGE_DEPLOY_DIR + "/"
    return sorted(n[len(prefix):] for n in env.list_templates() if n.startswith(prefix) and n.endswith(".j2"))


@dataclass(frozen=True)
class Template:
    """Where a template comes from: a user's file, or a packaged one by name."""

    spec: str                 # what the user wrote
    name: str                 # name inside the loader
    search_dir: Optional[str]  # the user's template directory, None for packaged ones

    @property
    def output_name(self) -> str:
        base = os.path.basename(self.name)
        return base[:-3] if base.endswith(".j2") else base


def find_template(spec: str) -> Template:
    """A path to an existing file, else the name of a packaged deploy template."""
    if not spec:
        raise InputError("--template needs a file name", "e.g. --template deploy/docker-compose.yml.j2")
    if os.path.isfile(spec):
        path = os.path.abspath(spec)
        return Template(spec, os.path.basename(path), os.path.dirname(path))
    packaged = packaged_deploy_templates()
    for candidate in (spec, spec + ".j2"):
        if candidate in packaged:
            return Template(spec, f"{PACKAGE_DEPLOY_DIR}/{candidate}", None)
    raise InputError(f"template {spec} does not exist",
                     f"pass a template file, or one of the packaged templates: {', '.join(packaged)}")


def _template_frame(tb, filenames) -> Optional[Tuple[str, int]]:
    """The innermost traceback frame that is template code (Jinja2 rewrites tracebacks so that
    template frames carry the template's file name and line)."""
    found = None
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname in filenames or fname.endswith(".j2") or fname.endswith(".html"):
            found = (fname, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _short(path: str) -> str:
    here = os.getcwd()
    try:
        rel = os.path.relpath(path, here)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render_template(template: Template, context: Dict) -> str:
    return "".join(_pieces(template, context))


def _pieces(template: Template, context: Dict) -> Iterator[str]:
    """The template's output, piece by piece as Jinja2 renders it; any error raised while
    rendering becomes an InputError naming the template file and line."""
    import jinja2

    env = _environment(template.search_dir)
    label = template.spec
    tpl = None
    try:
        tpl = env.get_template(template.name)
        label = _short(tpl.filename or template.spec)
        yield from tpl.generate(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = _short(exc.filename) if exc.filename else label
        raise InputError(f"template {where} line {exc.lineno}: {exc.message}",
                         "fix the template's syntax (Jinja2: {{ value }}, {% if %}...{% endif %})") from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(f"template {label}: includes {exc.name}, which does not exist",
                         "check the include's file name; it is looked up beside the template") from None
    except Exception as exc:  # noqa: BLE001 - any error raised while rendering is the template's
        frame = _template_frame(sys.exc_info()[2], {getattr(tpl, "filename", None)})
        at = f"template {_short(frame[0])} line {frame[1]}" if frame else f"template {label}"
        message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
        hint = ("the variables are: services (name, repo, image, tag, digest, channel, vars), "
                "by_name, target; a service's own values are in vars (services.yaml)")
        raise InputError(f"{at}: {message}", hint) from None


@dataclass
class Written:
    files: List[str] = field(default_factory=list)       # every file the templates produced
    changed: List[str] = field(default_factory=list)     # of those, the ones whose bytes changed


def render_all(templates: List[Template], context: Dict) -> Dict[str, bytes]:
    """Every template rendered in memory first, so a template error writes nothing."""
    out: Dict[str, bytes] = {}
    for template in templates:
        name = template.output_name
        if name in out:
            raise InputError(f"two templates would both write {name}",
                             "give the templates different file names")
        out[name] = render_template(template, context).encode("utf-8")
    return out


def write_files(directory: str, files: Dict[str, bytes]) -> Written:
    """All or nothing: every changed file is written to a temp file beside it first; only when all
    are written do the renames replace the old files (a full disk leaves the old set whole)."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {directory}: {exc.strerror}", "pass --out DIR, a writable directory") from None
    written = Written()
    staged: List[Tuple[str, str]] = []   # (temp file, target)
    try:
        for name in sorted(files):
            path = os.path.join(directory, name)
            written.files.append(path)
            if not _unchanged(path, files[name]):
                staged.append((_stage(path, files[name]), path))
        for tmp, path in staged:
            os.replace(tmp, path)
            written.changed.append(path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return written


def _unchanged(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read() == data
    except OSError:
        return False


def _stage(path: str, data: bytes) -> str:
    """`data` in a new temp file beside `path` (same file system, so the rename is atomic)."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        return tmp
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"cannot write {path}: {exc.strerror}", "choose a writable directory") from None


def write_atomic(path: str, data: bytes) -> None:
    """Readers (the apply command, the HTML publisher) see the old file or the new one, never half."""
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def render_page(name: str, context: Dict) -> str:
    """A packaged page (a build description)."""
    return render_template(Template(name, name, None), context)


def write_page(name: str, context: Dict, path: str) -> None:
    """A packaged page (the board) written to `path` as it is rendered: a board of 500 services
    is megabytes of HTML, not to be held whole, joined and encoded. Readers see the old file or
    the new one; an error leaves the old one."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(_pieces(Template(name, name, None), context))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}", "choose a writable directory") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
