"""trainer/models."""
