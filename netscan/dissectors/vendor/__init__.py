"""Vendor discovery protocols (Hikvision SADP, Dahua DHIP, Xiongmai, ...): one module each,
datagram parsers producing ``VendorDiscoveryEvent``."""
