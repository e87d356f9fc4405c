"""Shared test settings."""

import os

# Tests run on the CPU, one device, whatever the machine has.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
