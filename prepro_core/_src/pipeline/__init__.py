"""Input pipelines: applying transforms to records in loader workers (not specific to one loader)."""
