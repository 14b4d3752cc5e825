"""Compile Python sources to bytecode for a pybundle bundle, and check entry-point attributes.

Run by pybundle as `python -S -s -c <this file>` with every PYTHON* variable removed from the
environment but PYTHONHASHSEED=0 (`-I` would ignore that too): CPython before 3.11 writes the
elements of frozenset constants in hash order, so a random seed would make the bytes differ from
build to build. The script's directory entry ('' for -c) is dropped from sys.path first. It
reads a JSON request on stdin:
  {"jobs": [[source, target, dfile], ...], "attrs": [[source, name], ...]}
Writes unchecked-hash .pyc files at optimisation level 0 (reproducible: no timestamps; pybundle's
bytecode cache keys entries on both) and prints a JSON answer:
  {"failed": [[source, message], ...], "attrs": [true | false | null, ...]}
An attribute check answers null when it cannot tell statically (e.g. `from x import *`).
stdlib only, CPython 3.8 syntax.
"""
import sys

if sys.path and sys.path[0] == "":
    del sys.path[0]  # nothing from the working directory shadows the stdlib

import ast
import json
import os
import py_compile


def compile_all(jobs):
    failed = []
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    for source, target, dfile in jobs:
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            py_compile.compile(source, cfile=target, dfile=dfile, doraise=True, optimize=0, invalidation_mode=mode)
        except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeDecodeError) as exc:
            failed.append([source, str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__])
    return failed


def top_level_names(tree):
    names = set()
    star = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            # Conditional definitions: look one level in, generously.
            inner = ast.Module(body=[n for n in ast.walk(node) if isinstance(n, ast.stmt) and n is not node], type_ignores=[])
            sub_names, sub_star = top_level_names(inner)
            names |= sub_names
            star = star or sub_star
    return names, star


def check_attr(source, name):
    try:
        with open(source, "rb") as handle:
            tree = ast.parse(handle.read(), filename=source)
    except (SyntaxError, ValueError, OSError):
        return None
    names, star = top_level_names(tree)
    if name in names:
        return True
    if star or "__getattr__" in names:
        return None
    return False


def main():
    request = json.load(sys.stdin)
    answer = {
        "failed": compile_all(request.get("jobs", [])),
        "attrs": [check_attr(source, name) for source, name in request.get("attrs", [])],
    }
    json.dump(answer, sys.stdout)


main()
