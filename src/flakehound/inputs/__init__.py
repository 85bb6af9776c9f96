"""Reading what earlier steps produced: JUnit XML, coverage data, diff coverage."""
