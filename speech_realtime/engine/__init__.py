"""The built-in offline engine: a Realtime-compatible WebSocket server with local models."""
