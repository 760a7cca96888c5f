"""netscan.inventory"""
