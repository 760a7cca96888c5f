"""netscan.tui"""
