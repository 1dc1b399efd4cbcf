"""Tests of ``autograder``."""
