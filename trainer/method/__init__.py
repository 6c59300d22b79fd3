"""trainer/method."""
