"""Tests of ``course_utils``."""
