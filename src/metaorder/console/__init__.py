"""``metaorder console``: a trader's FIX console (issue 16).

``grammar`` (typed line → command), ``messages`` (command → FIX body), ``blotter`` (reports → rows)
and ``view`` (rows and reports → text) are pure; ``client`` is the FIX session around them, and
``app`` (interactive), ``script`` (standard input) and ``listen`` (drop copy) are the three ways to
drive it; ``command`` is the command line.
"""
