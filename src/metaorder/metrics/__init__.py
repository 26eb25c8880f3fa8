"""Metrics and health for operators: Prometheus exposition, ``/healthz`` and ``/readyz``.

The hot path only counts: :mod:`.counters` holds plain ints and dicts that the transport and the
shells bump (one dict increment per message at most, no locks, no prometheus objects).  At scrape
time :mod:`.state` reads those counters and the engine's own state into one plain
:class:`~metaorder.metrics.state.Snapshot`, :mod:`.collector` turns it into metric families, and
:mod:`.http` serves them (with the health checks) over HTTP/1.1 on the engine's own event loop.
``metaorder ctl status`` reads the same snapshot, so the two surfaces cannot disagree.
"""
