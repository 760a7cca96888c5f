"""netscan.report"""
