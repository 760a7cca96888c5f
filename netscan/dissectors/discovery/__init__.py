"""First-party parsers of device makers' LAN discovery protocols (Hikvision SADP,
Dahua DHIP, Xiongmai, ...): one module each, datagram parsers producing ``VendorDiscoveryEvent``."""
