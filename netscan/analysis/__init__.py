"""netscan.analysis"""
