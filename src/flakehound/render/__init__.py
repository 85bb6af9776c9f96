"""Pure renderers of a Report: the terminal text and the markdown of the PR comment and job summary."""
