"""Print the wheel tags a cross target accepts, best first, one per line.

Run by pybundle as `python -I -c <this file> JSON` with the interpreter that runs pip, JSON being
{"platforms": [..] or null, "version": [3, 12] or null, "implementation": "cp" or null,
"abis": [..] or null}. The list is pip's own: `pip download --platform/--python-version/
--implementation/--abi` builds this very `TargetPython` to pick wheels. Stdlib and pip only,
CPython 3.8 syntax.
"""
import json
import sys

from pip._internal.models.target_python import TargetPython

args = json.loads(sys.argv[1])
target = TargetPython(
    platforms=args["platforms"] or None,
    py_version_info=tuple(args["version"]) if args["version"] else None,
    abis=args["abis"] or None,
    implementation=args["implementation"],
)
# get_sorted_tags since pip 24.1, get_tags before
tags = getattr(target, "get_sorted_tags", None) or target.get_tags
sys.stdout.write("".join("%s\n" % tag for tag in tags()))
