"""Dataflow energy and latency model of spatial CNN accelerators."""
