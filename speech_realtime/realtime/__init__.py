"""The Realtime API client: sans-I/O protocol core (events, session) and its transport."""
