"""The pure-Python link, IP and TCP decoding of the reference engine."""
