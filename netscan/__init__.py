"""netscan: find cameras, NVRs and face terminals on a premises network, and who sends faces off-site."""

__version__ = "0.1.0"
