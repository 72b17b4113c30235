"""Video input."""
