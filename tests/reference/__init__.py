"""The pure-Python packet engine, kept as a test oracle only.

netscan ships one packet engine, the Rust core (``netscan._core``); the tshark engine is
the independent reference at run time. This pure-Python engine (``native``: link, IP and
TCP decoding in ``decode/``, flow tracking, the registry's parser choices) is what the
core was ported from. The Rust dissector parity tests (``tests/dissectors``) still use it
to record, independently of the core, every payload the Python dissectors see and the
parser the Python registry picks for it.
"""
