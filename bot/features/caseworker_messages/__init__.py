"""Messages between a participant and their caseworker: /message to them, and their replies."""
