"""netscan.engine"""


class EngineError(Exception):
    """The packet engine asked for cannot run here (e.g. tshark is not installed)."""
