"""Prepared GPU-machine scripts: install, train for fixed minutes, return the checkpoint."""
