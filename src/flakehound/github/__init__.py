"""GitHub: the Action's environment, workflow commands and the Publisher (PyGithub, httpx)."""
