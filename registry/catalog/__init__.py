"""The catalog of AI pilots (use cases) and the data sources they draw on."""
