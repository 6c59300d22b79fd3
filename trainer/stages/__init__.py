"""trainer/stages."""
