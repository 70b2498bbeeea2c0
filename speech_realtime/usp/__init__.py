"""The Azure Speech SDK's WebSocket protocol (USP), sans-I/O.

``frames``: parse and build the protocol's text and binary messages. ``recognition`` and
``synthesis``: per-socket state machines that take client messages and service events and return
the frames to send and the upstream work to start; the flask-sock route in ``web/azure_sdk.py``
carries them out. See ``azure-speech-protocol.md`` for the protocol itself.
"""
