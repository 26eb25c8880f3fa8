"""metaorder: a smart trading execution engine speaking FIX 4.4."""

from metaorder.native import use_sources_if_stale

__version__ = "0.1.0"
#: What runs the order path: "compiled" (mypyc), "python", or "python (stale build: ...)".
IMPLEMENTATION = use_sources_if_stale()
