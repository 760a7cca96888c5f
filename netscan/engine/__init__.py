"""netscan.engine"""
