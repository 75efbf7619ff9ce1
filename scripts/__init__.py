"""Training, fine-tuning and benchmark scripts; importable so tests can reach `scripts.training`."""
