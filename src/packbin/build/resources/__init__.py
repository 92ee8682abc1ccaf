"""Files that run inside the build container, sent there as they are (not imported by packbin)."""
