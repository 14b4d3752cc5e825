"""pybundle's PEP 751 marker evaluation (run with `python -I -c`, stdlib and pip only, CPython 3.8+).

Input (stdin, JSON):
  {"environment": {VAR: VALUE} or null,   # the full marker environment (verify), else this
                                          # interpreter's, with "override" applied (build)
   "override": {VAR: VALUE},
   "extras": [NAME, ...], "groups": [NAME, ...],  # the values of `extras` and `dependency_groups`
   "requires_python": SPEC or null,        # the lock's top-level requires-python
   "environments": [MARKER, ...] or null,  # the lock's `environments`
   "packages": [{"name", "version", "marker", "requires_python"}, ...],
   "projects": [WHEEL_PATH, ...]}          # local projects whose Requires-Dist the selection must satisfy

Output (stdout, JSON): {"selected": [bool per package], "environment": {VAR: VALUE} (the
variables the markers read), "problems": [TEXT, ...], "projects": [NAME, ...]}.
An unreadable marker: one line on stderr, exit status 1.

Markers are evaluated here rather than with pip's vendored `packaging.markers`, whose versions in
the supported interpreters (21.3 in pip 23) predate PEP 751's `extras` and `dependency_groups`
variables; comparisons follow packaging's rules (a PEP 440 specifier when the right side forms one,
else the Python operator) and use pip's vendored `packaging.specifiers`.
"""

import email.parser
import json
import operator
import os
import platform
import re
import sys
import zipfile

try:
    from pip._vendor.packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
    from pip._vendor.packaging.requirements import Requirement
except Exception:  # pragma: no cover - an interpreter without pip
    from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
    from packaging.requirements import Requirement

SET_VARIABLES = ("extras", "dependency_groups")
VARIABLES = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "platform_python_implementation",
    "python_version",
    "sys_platform",
    "extra",
) + SET_VARIABLES
OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
TOKEN = re.compile(
    r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|\(|\))"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"""
)


class MarkerError(Exception):
    pass


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def full_version(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def default_environment():
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def tokenize(text):
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise MarkerError("cannot read the marker `%s` at `%s`" % (text, text[pos:]))
        pos = match.end()
        if match.group("str") is not None:
            tokens.append(("str", match.group("str")[1:-1]))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            word = match.group("word")
            if word == "not" and tokens[-1:] != [("op", "not")]:
                tokens.append(("op", "not"))
            elif word == "in" and tokens[-1:] == [("op", "not")]:
                tokens[-1] = ("op", "not in")
            elif word in ("in", "and", "or"):
                tokens.append(("op", word))
            else:
                tokens.append(("var", word))
    return tokens


class Evaluator:
    """Evaluates markers against `env`; records which variables were read in `used`."""

    def __init__(self, env, extras, groups):
        self.env = env
        self.sets = {
            "extras": set(normalize(e) for e in extras),
            "dependency_groups": set(normalize(g) for g in groups),
        }
        self.used = {}

    def evaluate(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        value = self.or_expr()
        if self.pos != len(self.tokens):
            raise MarkerError("cannot read the marker `%s`" % text)
        return value

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        if token[0] is None:
            raise MarkerError("the marker `%s` ends too early" % self.text)
        self.pos += 1
        return token

    def or_expr(self):
        value = self.and_expr()
        while self.peek() == ("op", "or"):
            self.pos += 1
            value = self.and_expr() or value
        return value

    def and_expr(self):
        value = self.atom()
        while self.peek() == ("op", "and"):
            self.pos += 1
            value = self.atom() and value
        return value

    def atom(self):
        if self.peek() == ("op", "("):
            self.pos += 1
            value = self.or_expr()
            if self.take() != ("op", ")"):
                raise MarkerError("unbalanced parentheses in the marker `%s`" % self.text)
            return value
        lhs = self.take()
        kind, op = self.take()
        if kind != "op" or op in ("(", ")", "and", "or", "not"):
            raise MarkerError("no comparison in the marker `%s`" % self.text)
        rhs = self.take()
        return self.compare(lhs, op, rhs)

    def value(self, token):
        kind, text = token
        if kind == "str":
            return text
        if kind != "var":
            raise MarkerError("cannot read the marker `%s`" % self.text)
        name = text.replace(".", "_")
        if name in SET_VARIABLES:
            return self.sets[name]
        if name == "extra":
            return ""
        if name not in VARIABLES or name not in self.env:
            raise MarkerError(
                "the marker `%s` reads `%s`, which is not known for this target" % (self.text, text)
            )
        self.used[name] = self.env[name]
        return self.env[name]

    def compare(self, lhs, op, rhs):
        left, right = self.value(lhs), self.value(rhs)
        if isinstance(right, set):
            if op not in ("in", "not in") or isinstance(left, set):
                raise MarkerError("`%s` is a set: use `'name' in %s`" % (rhs[1], rhs[1]))
            return OPERATORS[op](normalize(left), right)
        if isinstance(left, set):
            raise MarkerError("`%s` is a set: use `'name' in %s`" % (lhs[1], lhs[1]))
        if lhs[0] == "var" and lhs[1] == "extra" or rhs[0] == "var" and rhs[1] == "extra":
            left, right = normalize(left), normalize(right)
        if op not in ("in", "not in"):
            try:
                return Specifier(op + right).contains(left, prereleases=True)
            except (InvalidSpecifier, ValueError, TypeError):
                pass
        if op not in OPERATORS:
            raise MarkerError("`%s` cannot compare `%s` and `%s`" % (op, left, right))
        return OPERATORS[op](left, right)


def project_requirements(wheel):
    """Returns (name, [Requires-Dist]) of the wheel file `wheel`."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if not names:
            raise MarkerError("`%s` has no .dist-info/METADATA" % wheel)
        text = archive.read(names[0]).decode("utf-8")
    message = email.parser.Parser().parsestr(text, headersonly=True)
    return message["Name"], message.get_all("Requires-Dist") or []


def main():
    job = json.load(sys.stdin)
    env = job.get("environment")
    if env is None:
        env = default_environment()
        env.update(job.get("override") or {})
    ev = Evaluator(env, job.get("extras") or [], job.get("groups") or [])
    problems = []
    python = env.get("python_full_version")
    requires = job.get("requires_python")
    # requires-python is checked without being recorded: only what markers read goes into the
    # manifest, so that interpreters of one minor version build the same bytes from most locks.
    if requires and python is not None:
        if not SpecifierSet(requires).contains(python, prereleases=True):
            problems.append(
                "the lock's requires-python is `%s`; the target is Python %s" % (requires, python)
            )
    environments = job.get("environments")
    if environments and not any(ev.evaluate(m) for m in environments):
        problems.append(
            "none of the lock's environments matches the target: %s"
            % ", ".join("`%s`" % m for m in environments)
        )
    selected, versions = [], {}
    for package in job["packages"]:
        marker = package.get("marker")
        chosen = ev.evaluate(marker) if marker else True
        selected.append(chosen)
        if not chosen:
            continue
        versions[normalize(package["name"])] = package.get("version")
        spec = package.get("requires_python")
        if spec and python is not None:
            if not SpecifierSet(spec).contains(python, prereleases=True):
                problems.append(
                    "`%s %s` requires Python `%s`; the target is Python %s"
                    % (package["name"], package.get("version") or "", spec, python)
                )
    projects = []
    for wheel in job.get("projects") or []:
        name, requires_dist = project_requirements(wheel)
        projects.append(name)
        for line in requires_dist:
            req = Requirement(line)
            if req.marker is not None and not ev.evaluate(str(req.marker)):
                continue
            key = normalize(req.name)
            if key not in versions:
                problems.append(
                    "the project `%s` requires `%s`, which the lock does not select for this target"
                    % (name, line)
                )
            elif versions[key] is not None and not req.specifier.contains(
                versions[key], prereleases=True
            ):
                problems.append(
                    "the project `%s` requires `%s`, but the lock has %s %s"
                    % (name, line, req.name, versions[key])
                )
    json.dump(
        {
            "selected": selected,
            "environment": dict(sorted(ev.used.items())),
            "problems": problems,
            "projects": projects,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        sys.stderr.write("%s\n" % (exc,))
        sys.exit(1)
