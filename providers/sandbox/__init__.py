"""Simulators of the external APIs: real HTTP servers on loopback with injectable faults."""
