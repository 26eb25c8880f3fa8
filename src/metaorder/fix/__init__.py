"""FIX 4.4: codec, data dictionary, sans-IO session, message store and asyncio transport."""
