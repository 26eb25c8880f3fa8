"""``python -m metaorder`` runs the command line."""

from metaorder.cli import main

raise SystemExit(main())
