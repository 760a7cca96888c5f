"""netscan.decode"""
