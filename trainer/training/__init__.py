"""trainer/training."""
