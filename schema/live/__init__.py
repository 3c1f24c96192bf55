"""Live updates pushed over a WebSocket."""
