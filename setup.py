"""Build hook: the order path's modules compiled with mypyc (see ``src/metaorder/native.py``).

Everything else about the package is in pyproject.toml.  Without mypyc or a C compiler the
package installs as plain Python.  (``METAORDER_PURE_PYTHON=1`` is read when the package is
imported, not here: it runs the sources of a build, which stays installed.)
"""

from __future__ import annotations

import os
import runpy
import sys

from setuptools import setup


def _ext_modules() -> list[object]:
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("metaorder: mypyc is not available; installing the pure Python modules", file=sys.stderr)
        return []
    native = runpy.run_path(os.path.join("src", "metaorder", "native.py"))
    paths = [os.path.join("src", *name.split(".")) + ".py" for name in native["COMPILED"]]
    extensions = mypycify(paths, opt_level="3", group_name=native["GROUP"])
    for extension in extensions:
        extension.optional = True  # no C compiler: the sources run instead (native.build_state says so)
    return list(extensions)


setup(ext_modules=_ext_modules())
