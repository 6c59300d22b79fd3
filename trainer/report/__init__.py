"""trainer/report."""
