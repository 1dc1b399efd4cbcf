"""Tests that execute the lecture and assignment notebooks, and check the release."""
