"""netscan.sources"""
