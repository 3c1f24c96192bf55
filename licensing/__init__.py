"""The service shell: settings, database wiring, the Starlette app and the CLI."""
