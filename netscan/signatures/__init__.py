"""netscan.signatures"""
