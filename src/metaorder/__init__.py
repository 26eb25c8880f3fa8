"""metaorder: a smart trading execution engine speaking FIX 4.4."""

__version__ = "0.1.0"
