"""A small application whose tests leave state behind."""
