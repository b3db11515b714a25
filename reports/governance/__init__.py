"""The governance report's building blocks (issue 12); today the compliance map."""
