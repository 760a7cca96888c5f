"""Fleet audits: many premises analysed as tasks on Dask distributed, one fleet report."""
