"""Print the facts pybundle needs about an interpreter, as one JSON object on stdout.

Run by `pybundle` as `python -I -c <this file>`; stdlib only, CPython 3.8 syntax.
"""
import importlib.util
import json
import os
import platform
import sys
import sysconfig

print(
    json.dumps(
        {
            "executable": sys.executable,
            "implementation": sys.implementation.name,
            "version": list(sys.version_info[:3]),
            "sys_version": sys.version,
            "cache_tag": sys.implementation.cache_tag,
            "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
            "platform": sysconfig.get_platform(),
            "sys_platform": sys.platform,
            "machine": platform.machine(),
            "multiarch": getattr(sys.implementation, "_multiarch", None),
            "magic": importlib.util.MAGIC_NUMBER.hex(),
            "pip": importlib.util.find_spec("pip") is not None,
            # Debian/Ubuntu's own python3: installed under /usr, site directories named
            # dist-packages (/usr/lib/python3/dist-packages); not a venv made from it.
            "debian_system": sys.prefix == sys.base_prefix == "/usr"
            and (
                any(p.endswith("dist-packages") for p in sys.path)
                or os.path.isdir("/usr/lib/python3/dist-packages")
            ),
        }
    )
)
