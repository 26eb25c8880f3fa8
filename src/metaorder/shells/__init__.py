"""The asyncio shells: the FIX applications that put the sans-IO core on the event loop.

``outbox`` (flush-then-send: nothing leaves before the journal commit that covers it), ``oms`` (the
OMS sessions in front of the intake), ``gateway`` (the venue sessions and the decision loop of the
execution engine) and ``dropcopy`` (the drop-copy session).  The core packages (``orders``,
``execution``, ``posttrade``) never import this one.
"""
