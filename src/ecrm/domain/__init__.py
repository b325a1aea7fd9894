"""The domain layer: frozen attrs classes and pure functions. No I/O happens here."""
