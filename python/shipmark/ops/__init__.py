"""Use cases, one per module. They take keyword arguments and return result dataclasses;
they never print, parse argv or read the environment."""
