"""The Azure Speech SDK's WebSocket protocol (USP), sans-I/O.

``frames``: parse and build the protocol's text and binary messages. ``recognition`` and
``synthesis``: per-socket state machines that take client messages and service events and return
the frames to send and the upstream work to start (``effects``; what both do alike: ``machine``);
the flask-sock route in ``web/azure_sdk.py`` carries them out. ``recognition_config`` and
``synthesis_context`` read what the client asks for; ``results`` and ``metadata`` build the
bodies of recognition results and synthesis events. See ``azure-speech-protocol.md`` for the
protocol itself.
"""
