"""Pure core: no clock, environment, file or socket. Callers pass everything in."""
