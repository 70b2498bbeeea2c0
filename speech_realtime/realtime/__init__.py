"""The Realtime API client.

Sans-I/O protocol core: ``events`` (dialects, builders, normalised server events), ``session``
(recognition, synthesis and check turns) and ``recognition`` (streaming recognition with server
VAD). I/O around it: ``transport`` (the WebSocket), ``auth`` (credentials), ``runner`` (connector,
session slots, the one loop that drives every turn) and ``stream`` (a streaming recognition turn
with a background reader).
"""
