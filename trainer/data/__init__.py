"""trainer/data."""
