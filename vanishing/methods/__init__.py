"""Training methods. Each one trains a single run; the sweep engine vmaps it."""
