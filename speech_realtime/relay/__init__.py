"""The seed-004 relay, sans I/O: a browser's simple WebSocket protocol on one side, a Realtime
session with server VAD on the other (see docs/relay.md).

- :mod:`.messages`: the browser's frames parsed and checked, the relay's messages built;
- :mod:`.upstream`: the Realtime client events the relay sends, in either dialect;
- :mod:`.conversation`: :class:`~.conversation.RelayMachine`, which translates between the two
  and holds the barge-in state (the reply playing, the audio sent, where to truncate).

The socket pump is in :mod:`speech_realtime.web.relay_loop`.
"""
