"""The host process: sources feed model stages; products go to the publisher and the plugins."""
