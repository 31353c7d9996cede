"""Hashing and hashed crossing, with the on-device 64-bit hash emulation."""
